// The CLOSE_WAIT gauges' labels beyond comm and remote (opened_in, the Kubernetes names), the age
// gauge beside the count, the bound on series whatever the labels multiply, and every loss
// cause of the report's Stats in cwtrace_lost_events_total.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "metrics/metrics.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using fixtures::connect_origin;
using fixtures::sock4;
using fixtures::uf;

// A socket to `remote` held by `comm`, opened through `own_function` (the user's own frame)
// when given, by an owner in pod `pod` of namespace "payments" when given; `age` seconds old.
SocketEntry leak(const std::string& comm, const std::string& remote, double age,
                 const std::string& own_function = "", const std::string& pod = "") {
    Origin origin = connect_origin(1234, comm, {uf("connect", fixtures::kLibc)});
    if (!own_function.empty()) {
        origin.user_stack.push_back(uf(own_function, "/usr/bin/" + comm));
        origin.own_frame = static_cast<uint32_t>(origin.user_stack.size() - 1);
    }
    SocketEntry s = sock4("10.0.0.1", 40000, remote, 443, age, 1234, comm, origin);
    if (!pod.empty()) {
        auto owner = std::make_shared<OwnerDetails>();
        owner->pod = pod;
        owner->namespace_name = "payments";
        owner->container = "web";
        s.owner = owner;
    }
    return s;
}

Report report_of(std::vector<SocketEntry> sockets) {
    Report r;
    r.min_age_seconds = 30;
    r.sockets = std::move(sockets);
    return r;
}

std::string exposition(const Report& r, size_t top_n) {
    return render_metrics(make_snapshot(r, Log2Histogram{}, top_n, "1.2.3"));
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsLabels, OpenedInAndKubernetesNamesWhenKnownOnly) {
    const std::string text =
        exposition(report_of({leak("api", "10.0.0.2", 100, "charge_card", "api-7d9f"),
                              leak("api", "10.0.0.2", 40, "charge_card", "api-7d9f"),
                              leak("cron", "10.0.0.3", 50)}),
                   20);
    const std::string pod_labels =
        "comm=\"api\",remote=\"10.0.0.2\",opened_in=\"charge_card\",pod=\"api-7d9f\","
        "namespace=\"payments\",container=\"web\"";
    EXPECT_TRUE(has_line(text, "cwtrace_close_wait_sockets{" + pod_labels + "} 2")) << text;
    EXPECT_TRUE(has_line(text, "cwtrace_close_wait_oldest_age_seconds{" + pod_labels + "} 100"))
        << text;
    // Nothing known beyond comm and remote: no empty labels written.
    EXPECT_TRUE(has_line(text, "cwtrace_close_wait_sockets{comm=\"cron\",remote=\"10.0.0.3\"} 1"))
        << text;
    EXPECT_TRUE(has_line(
        text, "cwtrace_close_wait_oldest_age_seconds{comm=\"cron\",remote=\"10.0.0.3\"} 50"))
        << text;
}

TEST(MetricsLabels, SeriesDifferingOnlyInOpenedInOrPodAreApart) {
    auto top = top_series(
        report_of({leak("api", "10.0.0.2", 10, "a"), leak("api", "10.0.0.2", 20, "b"),
                   leak("api", "10.0.0.2", 30, "b", "p1"), leak("api", "10.0.0.2", 40, "b", "p2")}),
        20);
    ASSERT_EQ(top.size(), 4u);
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& s : top) {
        EXPECT_EQ(s.sockets, 1u);
        seen.insert({s.opened_in, s.pod});
    }
    EXPECT_EQ(seen.size(), 4u);
}

// However many functions and pods there are, top_n + 1 series at most: the bound is on the whole
// label set, and "other" keeps every socket and the oldest age of the rest.
TEST(MetricsLabels, SeriesStayBoundedWhenLabelsMultiply) {
    std::vector<SocketEntry> sockets;
    for (int f = 0; f < 30; ++f)
        for (int p = 0; p < 30; ++p)
            sockets.push_back(leak("api", "10.0.0.2", 10.0 + f * 30 + p, "fn" + std::to_string(f),
                                   "pod-" + std::to_string(p)));
    sockets.push_back(leak("api", "10.0.0.2", 5, "fn0", "pod-0"));  // the largest series: 2
    const Report r = report_of(std::move(sockets));
    auto top = top_series(r, 5);
    ASSERT_EQ(top.size(), 6u);
    EXPECT_EQ(top[0].opened_in, "fn0");
    EXPECT_EQ(top[0].pod, "pod-0");
    EXPECT_EQ(top[0].sockets, 2u);
    EXPECT_DOUBLE_EQ(top[0].oldest_age_seconds, 10);
    const CloseWaitSeries& other = top.back();
    EXPECT_EQ(other.comm, "other");
    EXPECT_EQ(other.remote, "other");
    EXPECT_EQ(other.opened_in, "");
    EXPECT_EQ(other.pod, "");
    // The oldest socket (fn29, pod-29: 10 + 29 * 30 + 29 s) is not among the kept series.
    EXPECT_DOUBLE_EQ(other.oldest_age_seconds, 10.0 + 29 * 30 + 29);
    uint64_t sum = 0;
    for (const auto& s : top) sum += s.sockets;
    EXPECT_EQ(sum, r.sockets.size());
    const std::string text = exposition(r, 5);
    EXPECT_TRUE(has_line(
        text, "cwtrace_close_wait_oldest_age_seconds{comm=\"other\",remote=\"other\"} 909"))
        << text;
}

TEST(MetricsLabels, OpenedInIsCutAndEscaped) {
    const std::string long_name(1000, 'x');
    auto top = top_series(report_of({leak("api", "10.0.0.2", 10, long_name)}), 20);
    ASSERT_EQ(top.size(), 1u);
    EXPECT_EQ(top[0].opened_in.size(), kMaxOpenedInBytes);
    const std::string text =
        exposition(report_of({leak("api", "10.0.0.2", 10, "f\"\x1b[31m")}), 20);
    EXPECT_NE(text.find("opened_in=\"f\\\"\\\\x1b[31m\""), std::string::npos) << text;
}

// Issue 23: python_stacks_lost was in JSON's lost_events and missing here. Every cause of
// Stats, by its own value.
TEST(MetricsLabels, EveryLossCauseIsExposed) {
    Report r = report_of({});
    uint64_t value = 1;
    for (const auto& [cause, count] : kLossCauses) r.stats.*count = value++;
    const std::string text = exposition(r, 20);
    value = 1;
    for (const auto& [cause, count] : kLossCauses)
        EXPECT_TRUE(has_line(text, "cwtrace_lost_events_total{cause=\"" + std::string(cause) +
                                       "\"} " + std::to_string(value++)))
            << cause << "\n"
            << text;
    EXPECT_TRUE(has_line(text, "cwtrace_lost_events_total{cause=\"python_stacks_lost\"} 7"));
}

}  // namespace
}  // namespace cwtrace
