// Groups merged by their first own frame: paths reaching the same line of the user's code in the
// same program are one leak; anything else stays a group of its own.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "report/own_groups.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using fixtures::kLibc;
using fixtures::sock4;
using fixtures::uf;

Frame py(std::string function, std::string path, int line) {
    Frame f{std::move(function), path};
    f.file = std::move(path);
    f.line = line;
    return f;
}

// A path from libc's connect through `library` frames to the crawler's `function` at `line`.
Origin crawler_path(const std::string& comm, const std::vector<Frame>& library,
                    const std::string& function, int line) {
    std::vector<Frame> stack = {uf("connect", kLibc)};
    stack.insert(stack.end(), library.begin(), library.end());
    stack.push_back(py(function, "/srv/crawler/crawler.py", line));
    Origin o = fixtures::connect_origin(3100, comm, stack);
    o.own_frame = static_cast<uint32_t>(stack.size() - 1);
    return o;
}

const Frame kPool = py("HTTPConnectionPool.urlopen",
                       "/usr/lib/python3/dist-packages/urllib3/connectionpool.py", 703);
const Frame kRetry =
    py("HTTPAdapter.send", "/usr/lib/python3/dist-packages/requests/adapters.py", 486);

// `n` sockets opened through `o`, the first aged `age` and each next one a second younger.
void add(Report& r, const Origin& o, size_t n, double age, uint16_t first_port) {
    for (size_t i = 0; i < n; ++i)
        r.sockets.push_back(sock4("127.0.0.1", static_cast<uint16_t>(first_port + i), "10.0.0.9",
                                  80, age - static_cast<double>(i), 3100, "crawler", o));
}

TEST(OwnGroups, PathsReachingTheSameLineMergeLargestPathFirst) {
    Report r;
    add(r, crawler_path("crawler", {kPool}, "session_per_call", 69), 2, 50, 40000);
    add(r, crawler_path("crawler", {kRetry, kPool}, "session_per_call", 69), 3, 20, 40100);
    add(r, crawler_path("crawler", {kPool}, "fetch_image", 80), 4, 10, 40200);

    const auto groups = group_by_own_frame(r);
    ASSERT_EQ(groups.size(), 2u);
    // 5 sockets through two paths beat 4 through one.
    ASSERT_NE(groups[0].own, nullptr);
    EXPECT_EQ(groups[0].own->function, "session_per_call");
    ASSERT_EQ(groups[0].paths.size(), 2u);
    EXPECT_EQ(groups[0].paths[0].sockets.size(), 3u);
    EXPECT_EQ(groups[0].paths[1].sockets.size(), 2u);
    EXPECT_EQ(groups[0].paths[0].origin->user_stack.size(), 4u);
    ASSERT_EQ(groups[0].sockets.size(), 5u);
    // Oldest first across both paths.
    EXPECT_EQ(best_age_seconds(*groups[0].sockets.front()), 50);
    EXPECT_EQ(best_age_seconds(*groups[0].sockets[1]), 49);
    EXPECT_EQ(best_age_seconds(*groups[0].sockets.back()), 18);
    EXPECT_EQ(groups[1].own->function, "fetch_image");
    EXPECT_EQ(groups[1].paths.size(), 1u);
}

TEST(OwnGroups, AnotherLineOrProgramOrCallIsAnotherLeak) {
    Report r;
    add(r, crawler_path("crawler", {kPool}, "session_per_call", 69), 1, 50, 40000);
    add(r, crawler_path("crawler", {kRetry}, "session_per_call", 70), 1, 40, 40100);
    add(r, crawler_path("indexer", {kRetry}, "session_per_call", 69), 1, 30, 40200);
    Origin accepted = crawler_path("crawler", {kRetry, kPool}, "session_per_call", 69);
    accepted.kind = OriginKind::Accept;
    add(r, accepted, 1, 20, 40300);
    EXPECT_EQ(group_by_own_frame(r).size(), 4u);
}

TEST(OwnGroups, NativeFramesWithoutALineArePlacedByTheirModule) {
    Report r;
    auto native = [](const char* module, const Frame& via) {
        std::vector<Frame> stack = {uf("connect", kLibc), via, uf("open_connection", module)};
        Origin o = fixtures::connect_origin(3100, "client", stack);
        o.own_frame = 2;
        return o;
    };
    add(r, native("/usr/bin/client", uf("retry", kLibc)), 1, 50, 40000);
    add(r, native("/usr/bin/client", uf("connect_timeout", kLibc)), 1, 40, 40100);
    add(r, native("/opt/other/client", uf("retry", kLibc)), 1, 30, 40200);
    const auto groups = group_by_own_frame(r);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].paths.size(), 2u);
    EXPECT_EQ(groups[0].own->module, "/usr/bin/client");
}

TEST(OwnGroups, PathsWithoutAnOwnFrameAndHeldSocketsStayApart) {
    Report r;
    Origin no_own = fixtures::connect_origin(3100, "crawler", {uf("connect", kLibc)});
    add(r, no_own, 2, 50, 40000);
    Origin no_own2 =
        fixtures::connect_origin(3100, "crawler", {uf("connect", kLibc), uf("retry", kLibc)});
    add(r, no_own2, 2, 40, 40100);
    SocketEntry held = sock4("10.0.0.5", 30000, "10.0.0.77", 15000, 10, 42, "app", Origin{});
    held.before_start = true;
    r.sockets.push_back(held);
    const auto groups = group_by_own_frame(r);
    ASSERT_EQ(groups.size(), 3u);
    for (const auto& g : groups) {
        EXPECT_EQ(g.own, nullptr);
        EXPECT_EQ(g.paths.size(), 1u);
        EXPECT_EQ(g.sockets.size(), g.paths[0].sockets.size());
    }
    EXPECT_TRUE(groups[2].paths[0].held);
}

}  // namespace
}  // namespace cwtrace
