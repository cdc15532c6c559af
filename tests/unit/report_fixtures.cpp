// Fixed reports for the renderer tests, and the golden-file check (see report_fixtures.h).
#include "report_fixtures.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "report/own_frame.h"
#include "util/histogram.h"

#ifndef CWTRACE_GOLDEN_DIR
#error "CWTRACE_GOLDEN_DIR must name the tests/golden directory"
#endif

namespace cwtrace::fixtures {

Frame uf(std::string function, std::string module) {
    return {std::move(function), std::move(module)};
}
Frame kf(std::string function) { return {std::move(function), ""}; }

std::vector<Frame> connect_kernel_stack() {
    return {kf("tcp_v4_connect"),
            kf("__inet_stream_connect"),
            kf("inet_stream_connect"),
            kf("__sys_connect"),
            kf("__x64_sys_connect"),
            kf("do_syscall_64"),
            kf("entry_SYSCALL_64_after_hwframe")};
}

// Where each frame's code is, as the symbolizer records it: nginx mapped at 0x55d0c0a00000 from
// offset 0 (a PIE), libc without a build id (stripped of its note), the leaf one past a call.
void place(std::vector<Frame>& stack) {
    uint64_t address = 0x55d0c0a1f3a4;
    for (Frame& f : stack) {
        f.address = address;
        f.file_offset = address - 0x55d0c0a00000;
        if (f.module == "/usr/sbin/nginx") f.build_id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";
        address += 0x1c40;
    }
}

// The user's own frame, as the stack resolver marks it.
void mark_own(Origin& o) {
    if (auto own = OwnCode{}.first_own(o.user_stack)) o.own_frame = static_cast<uint32_t>(*own);
}

Origin connect_origin(uint32_t pid, std::string comm, std::vector<Frame> user) {
    Origin o;
    o.kind = OriginKind::Connect;
    o.pid = pid;
    o.tid = pid + 1;
    o.comm = std::move(comm);
    o.user_stack = std::move(user);
    o.kernel_stack = connect_kernel_stack();
    mark_own(o);
    return o;
}

SocketEntry sock4(std::string local, uint16_t lport, std::string remote, uint16_t rport, double age,
                  std::optional<uint32_t> pid, std::optional<std::string> comm, Origin origin) {
    SocketEntry s;
    s.pid = pid;
    s.comm = std::move(comm);
    s.local = {local, lport};
    s.remote = {remote, rport};
    s.close_wait_seconds = age;
    s.origin = std::move(origin);
    return s;
}

SocketEntry sock6(std::string local, uint16_t lport, std::string remote, uint16_t rport, double age,
                  std::optional<uint32_t> pid, std::optional<std::string> comm, Origin origin) {
    SocketEntry s = sock4(std::move(local), lport, std::move(remote), rport, age, pid,
                          std::move(comm), std::move(origin));
    s.inet6 = true;
    return s;
}

Report base_report(uint64_t events) {
    Report r;
    r.min_age_seconds = 30;
    r.tracing_seconds = 61.2;
    r.stats.events = events;
    return r;
}

Report empty_report() {
    Report r = base_report(57);
    r.tracing_seconds = 12.5;
    return r;
}

Report connect_ipv4_report() {
    const std::string bin = "/opt/leaky/bin/leaky_client";
    const Origin o =
        connect_origin(4242, "python3",
                       {uf("connect", kLibc), uf("open_leaky", bin), uf("handle_request", bin),
                        uf("main", bin), uf("__libc_start_call_main", kLibc)});
    Report r = base_report(1234);
    r.sockets = {sock4("127.0.0.1", 43210, "127.0.0.1", 8080, 58.34, 4242, "python3", o),
                 sock4("10.1.2.3", 43212, "10.1.9.200", 8080, 45.0, 4242, "python3", o),
                 sock4("10.1.2.3", 51000, "192.168.100.200", 5432, 31.25, 4250, "worker", o)};
    return r;
}

Report accept_ipv6_report() {
    const std::string nginx = "/usr/sbin/nginx";
    Origin o;
    o.kind = OriginKind::Accept;
    o.pid = 812;
    o.tid = 812;
    o.comm = "nginx";
    o.user_stack = {
        uf("accept4", kLibc), uf("ngx_event_accept", nginx), uf("ngx_epoll_process_events", nginx),
        uf("ngx_process_events_and_timers", nginx), uf("ngx_worker_process_cycle", nginx)};
    place(o.user_stack);
    o.kernel_stack = {kf("inet_csk_accept"),
                      kf("inet_accept"),
                      kf("do_accept"),
                      kf("__sys_accept4"),
                      kf("__x64_sys_accept4"),
                      kf("do_syscall_64"),
                      kf("entry_SYSCALL_64_after_hwframe")};
    mark_own(o);
    Report r = base_report(98765);
    r.tracing_seconds = 7322.9;
    r.sockets = {
        sock6("2001:db8:85a3:1:211:22ff:fe33:4455", 443, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
              65535, 3725.4, 812, "nginx", o),
        sock6("::ffff:192.0.2.10", 8443, "::ffff:198.51.100.7", 39022, 192.4, 812, "nginx", o),
        sock6("::1", 8080, "::1", 51234, 42.1, 813, "nginx", o)};
    return r;
}

Report unknown_origin_report() {
    Report r = base_report(310);
    r.tracing_seconds = 95;
    const Origin unknown;  // kind Unknown, no pid/tid/comm, no stacks
    SocketEntry old = sock4("10.0.0.5", 9092, "10.0.0.77", 40112, 7300.0, 999, "java", unknown);
    old.before_start = true;
    SocketEntry orphan =
        sock4("10.0.0.5", 9092, "10.0.0.78", 40990, 65.0, std::nullopt, std::nullopt, unknown);
    SocketEntry half = sock4("10.0.0.5", 9093, "10.0.0.79", 41000, 59.96, std::nullopt,
                             std::string("java"), unknown);
    r.sockets = {old, orphan, half};
    return r;
}

std::string long_template_name() {
    return "std::_Function_handler<void (std::shared_ptr<boost::asio::basic_stream_socket<"
           "boost::asio::ip::tcp, boost::asio::any_io_executor> >, boost::system::error_code "
           "const&), std::_Bind<void (app::net::ConnectionPool<app::net::TlsTransport<std::"
           "allocator<char> >, app::net::DefaultRetryPolicy>::*(app::net::ConnectionPool<app::"
           "net::TlsTransport<std::allocator<char> >, app::net::DefaultRetryPolicy>*, std::"
           "_Placeholder<1>, std::_Placeholder<2>))(std::shared_ptr<boost::asio::basic_stream_"
           "socket<boost::asio::ip::tcp, boost::asio::any_io_executor> >, boost::system::"
           "error_code const&)> >::_M_invoke(std::_Any_data const&)";
}

Report unusual_names_report() {
    const std::string app = "/opt/My App/bin/sérvice";
    Origin o = connect_origin(
        77, "weird\"comm\\",
        {uf("connect", kLibc), uf("operator\"\"_conn(char const*, unsigned long)", app),
         uf("path\\with\\backslashes", app), uf("cmp<a&b>(x<y, z>w)", app),
         uf("naïve_函数_🚀_connect", app), uf(long_template_name(), app),
         uf("evil\x1b[2J\tname\n", app), uf("bad\xff\xfe utf8", app),
         uf("lambda;with;semicolons", app),
         uf("[unknown]",
            "/very/long/path/to/a/deeply/nested/build/output/directory/for/"
            "some/project/bazel-out/k8-opt/bin/services/frontend/server"),
         uf("no_module_frame", "")});
    o.kernel_stack.insert(o.kernel_stack.begin(),
                          kf("__a_very_long_kernel_symbol_name_that_goes_on_and_on_for_quite_a_"
                             "while_really_longer_than_eighty_columns"));
    Report r = base_report(42);
    r.sockets = {sock4("127.0.0.1", 40000, "127.0.0.1", 9000, 125.0, 77, "weird\"comm\\", o),
                 sock4("127.0.0.1", 40001, "127.0.0.1", 9000, 90.5, 78, "日本語プロセス", o),
                 sock4("127.0.0.1", 40002, "127.0.0.1", 9000, 88.0, 79, "tab\there\x7f", o)};
    return r;
}

// One connect path leaking 120 sockets across 8 processes and 4 remotes, plus 30 paths with 1-2
// sockets each (some tied in size and age, so the stack decides their order).
Report big_and_tiny_report() {
    const std::string bin = "/usr/local/bin/api-server";
    const Origin big = connect_origin(
        2000, "api-server",
        {uf("connect", kLibc), uf("db::Pool::open_connection()", bin),
         uf("db::Pool::acquire()", bin), uf("api::Handler::serve(api::Request const&)", bin),
         uf("start_thread", kLibc), uf("__clone3", kLibc)});
    Report r = base_report(250000);
    r.min_age_seconds = 60;
    r.tracing_seconds = 86400 + 3 * 3600 + 120;
    for (int i = 0; i < 120; ++i) {
        const uint32_t pid = 2000 + static_cast<uint32_t>(i % 8);
        // Remotes: .20 72 times, .21 24 times, .22 and .23 12 times each (a tie).
        const int db = i % 10 < 6 ? 20 : i % 10 < 8 ? 21 : i % 10 == 8 ? 22 : 23;
        r.sockets.push_back(sock4("172.16.0.10", static_cast<uint16_t>(30000 + i),
                                  "172.16.5." + std::to_string(db), 5432, 60.5 + (120 - i) * 720.0,
                                  pid, "api-server", big));
    }
    for (int g = 0; g < 30; ++g) {
        char name[32];
        std::snprintf(name, sizeof name, "handler_%02d", 29 - g);
        const Origin o = connect_origin(3000, "worker", {uf("connect", kLibc), uf(name, bin)});
        const double age = 61.0 + (g % 3) * 10.0;
        for (int k = 0; k <= g % 2; ++k)
            r.sockets.push_back(sock4("172.16.0.11", static_cast<uint16_t>(20000 + 2 * g + k),
                                      "172.16.9.9", 6379, age - k, 3000 + static_cast<uint32_t>(g),
                                      "worker", o));
    }
    return r;
}

Report lost_events_report() {
    Origin o = connect_origin(5150, "curl", {});  // its user stack was not captured
    Report r = base_report(5000);
    r.stats.lost_events = 17;
    r.stats.ringbuf_full = 10;
    r.stats.stacks_lost = 2;
    r.stats.accept_unresolved = 5;
    // Names lost too: a FUSE file that did not answer in time, a FIFO, the stack map recycled.
    r.stats.files_refused = {{"not_regular", 1}, {"too_large", 0},  {"wrong_owner", 0},
                             {"replaced", 0},    {"unreadable", 0}, {"slow", 3}};
    r.stats.stacks_recycled = 40;
    r.stats.stale_stacks = 2;
    r.sockets = {sock4("192.0.2.1", 55555, "203.0.113.9", 443, 33.3, 5150, "curl", o)};
    return r;
}

// A Python program: frames of the interpreter and of a script; the kernel stack not captured.
Report python_no_kernel_stack_report() {
    const std::string python = "/usr/bin/python3.11";
    const std::string script = "/srv/crawler/crawler.py";
    Origin o;
    o.kind = OriginKind::Connect;
    o.pid = 6001;
    o.tid = 6001;
    o.comm = "python3";
    Frame fetch_page = uf("fetch_page", script);
    fetch_page.file = script;
    fetch_page.line = 12;
    o.user_stack = {uf("connect", kLibc), uf("sock_connect_impl", python),
                    fetch_page,           uf("_PyEval_EvalFrameDefault", python),
                    uf("", python),  // no symbol covers the address
                    uf("main", python)};
    mark_own(o);
    Report r = base_report(77);
    r.sockets = {sock4("127.0.0.1", 41000, "127.0.0.1", 80, 95.0, 6001, "python3", o),
                 sock4("127.0.0.1", 41001, "127.0.0.1", 80, 65.0, 6001, "python3", o),
                 sock4("127.0.0.1", 41002, "127.0.0.1", 443, 40.0, 6001, "python3", o),
                 sock4("127.0.0.1", 41003, "127.0.0.1", 80, 35.0, 6001, "python3", o)};
    return r;
}

// Started in front of a pile-up: sockets already in CLOSE_WAIT (estimated ages, owners' details,
// diagnoses from their queues), a server's accepted ones in a container, one still in a listen
// queue, and a traced one beside them.
Report before_start_report() {
    Report r = base_report(12);
    r.tracing_seconds = 1.0;
    const Origin unknown;
    auto crawler = std::make_shared<OwnerDetails>();
    crawler->cmdline = "python3 /srv/crawler/crawler.py --pool 16";
    crawler->cgroup = "/system.slice/crawler.service";
    const auto held = [&](uint16_t lport, double est, uint32_t recv_q) {
        SocketEntry s = sock4("10.0.0.5", lport, "10.0.0.77", 8080, 1.0, 4242, "python3", unknown);
        s.before_start = true;
        s.age_estimate_seconds = est;
        s.owner = crawler;
        s.accepted = false;
        s.recv_q = recv_q;
        s.send_q = 0;
        s.diagnosis = recv_q == 0   ? Diagnosis::EofReadNotClosed
                      : recv_q == 1 ? Diagnosis::EofNotRead
                                    : Diagnosis::UnreadData;
        return s;
    };
    for (int i = 0; i < 12; ++i)
        r.sockets.push_back(held(static_cast<uint16_t>(40000 + i), 312.0 + i * 60, 513));
    for (int i = 0; i < 3; ++i)
        r.sockets.push_back(held(static_cast<uint16_t>(41000 + i), 95.5 - i, 0));

    auto java = std::make_shared<OwnerDetails>();
    java->cmdline = "java -Xmx2g -jar /app/kafka-proxy.jar --listen 9092";
    java->pid_in_namespace = 7;
    java->cgroup =
        "/system.slice/"
        "docker-3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70.scope";
    java->container_id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70";
    for (int i = 0; i < 2; ++i) {
        SocketEntry s = sock6("::ffff:10.0.0.5", 9092, "::ffff:10.0.0." + std::to_string(80 + i),
                              static_cast<uint16_t>(51000 + i), 1.0, 999, "java", unknown);
        s.before_start = true;
        s.age_estimate_seconds = 7300.0 - i * 3000;
        s.owner = java;
        s.accepted = true;
        s.recv_q = 1;
        s.send_q = 0;
        s.diagnosis = Diagnosis::EofNotRead;
        r.sockets.push_back(s);
    }
    SocketEntry queued =
        sock4("10.0.0.5", 9093, "10.0.0.79", 41000, 1.0, std::nullopt, std::nullopt, unknown);
    queued.before_start = true;
    queued.accepted = true;
    queued.age_estimate_seconds = 45.0;
    queued.recv_q = 1;
    queued.send_q = 0;
    queued.diagnosis = Diagnosis::EofNotRead;
    r.sockets.push_back(queued);

    const std::string bin = "/opt/leaky/bin/leaky_client";
    SocketEntry traced =
        sock4("127.0.0.1", 43210, "127.0.0.1", 8080, 0.8, 4300, "leaky_client",
              connect_origin(4300, "leaky_client", {uf("connect", kLibc), uf("open_leaky", bin)}));
    traced.recv_q = 0;
    traced.send_q = 0;
    traced.diagnosis = Diagnosis::EofReadNotClosed;
    r.min_age_seconds = 0.5;
    r.sockets.push_back(traced);
    std::stable_sort(r.sockets.begin(), r.sockets.end(), [](const auto& a, const auto& b) {
        return a.age_estimate_seconds.value_or(a.close_wait_seconds) >
               b.age_estimate_seconds.value_or(b.close_wait_seconds);
    });
    return r;
}

CloseWaitDurations durations_of(Origin opening, const std::vector<double>& seconds) {
    Log2Histogram h;
    for (double d : seconds) h.add(d);
    CloseWaitDurations d{std::move(opening), h.count(), h.sum_seconds(), false, {}};
    for (size_t i = h.first_used(); i <= h.last_used(); ++i)
        d.buckets.push_back(
            {Log2Histogram::lower_seconds(i), Log2Histogram::upper_seconds(i), h.buckets()[i]});
    return d;
}

Report late_closes_report() {
    const std::string bin = "/opt/crawler/bin/crawler";
    const Origin leaky = connect_origin(
        3100, "crawler",
        {uf("connect", kLibc), uf("open_connection", bin), uf("fetch_page", bin), uf("main", bin)});
    const Origin healthy = connect_origin(3100, "crawler",
                                          {uf("connect", kLibc), uf("open_connection", bin),
                                           uf("fetch_page_properly", bin), uf("main", bin)});
    Report r = base_report(4321);
    r.min_age_seconds = 5;
    r.sockets = {sock4("127.0.0.1", 40100, "127.0.0.1", 8080, 12.5, 3100, "crawler", leaky)};

    LateCloseGroup reaped;
    reaped.opening = leaky;
    reaped.closing.kind = CloseKind::Close;
    reaped.closing.pid = 3100;
    reaped.closing.tid = 3107;
    reaped.closing.comm = "reaper";
    reaped.closing.user_stack = {uf("close", kLibc), uf("reap_idle_connections", bin),
                                 uf("reaper_thread", bin), uf("start_thread", kLibc)};
    reaped.closing.kernel_stack = {kf("tcp_close"),    kf("inet_release"), kf("__sock_release"),
                                   kf("sock_close"),   kf("__fput"),       kf("__x64_sys_close"),
                                   kf("do_syscall_64")};
    reaped.count = 7;
    reaped.total_seconds = 7 * 91.5;
    reaped.max_seconds = 95.25;
    for (uint16_t i = 0; i < 5; ++i) {
        LateClose s;
        s.pid = 3100;
        s.comm = "crawler";
        s.local = {"127.0.0.1", static_cast<uint16_t>(40200 + i)};
        s.remote = {"127.0.0.1", 8080};
        s.close_wait_seconds = 95.25 - i;
        s.closer_pid = 3100;
        s.closer_tid = 3107;
        s.closer_comm = "reaper";
        reaped.sockets.push_back(s);
    }

    LateCloseGroup exited;
    exited.opening = leaky;
    exited.closing.kind = CloseKind::Exit;
    exited.closing.pid = 3300;
    exited.closing.tid = 3300;
    exited.closing.comm = "crawler";
    exited.closing.kernel_stack = {kf("tcp_close"), kf("__fput"), kf("task_work_run"),
                                   kf("do_exit")};
    exited.count = 1;
    exited.total_seconds = exited.max_seconds = 6.5;
    LateClose e;
    e.pid = 3300;
    e.comm = "crawler";
    e.inet6 = true;
    e.local = {"::1", 40300};
    e.remote = {"::1", 8443};
    e.close_wait_seconds = 6.5;
    e.before_start = true;
    e.closer_pid = 3300;
    e.closer_tid = 3300;
    e.closer_comm = "crawler";
    exited.sockets = {e};

    LateCloseGroup reset;
    reset.opening = Origin{};
    reset.closing.kind = CloseKind::Reset;
    reset.count = 1;
    reset.total_seconds = reset.max_seconds = 40;
    LateClose z;
    z.local = {"10.0.0.1", 5432};
    z.remote = {"10.0.0.9", 51000};
    z.close_wait_seconds = 40;
    reset.sockets = {z};
    r.late_closes = {reaped, exited, reset};

    r.close_wait_durations = {
        durations_of(healthy, {0.00003, 0.00004, 0.00005, 0.00012, 0.0002, 0.0009, 0.0011}),
        durations_of(leaky, {6.5, 88, 89, 90, 92, 93, 94, 95.25})};
    return r;
}

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {"empty", empty_report},
        {"connect_ipv4", connect_ipv4_report},
        {"accept_ipv6", accept_ipv6_report},
        {"unknown_origin", unknown_origin_report},
        {"unusual_names", unusual_names_report},
        {"big_and_tiny", big_and_tiny_report},
        {"lost_events", lost_events_report},
        {"python_no_kernel_stack", python_no_kernel_stack_report},
        {"before_start", before_start_report},
        {"late_closes", late_closes_report},
    };
    return all;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string case_name(const testing::TestParamInfo<Case>& info) { return info.param.name; }

namespace {

std::string golden_path(const std::string& file) {
    return std::string(CWTRACE_GOLDEN_DIR) + "/" + file;
}

bool blessing() {
    const char* v = std::getenv("CWTRACE_BLESS");
    return v && std::string(v) == "1";
}

}  // namespace

void expect_golden(const std::string& file, const std::string& actual) {
    const std::string path = golden_path(file);
    if (blessing()) {
        std::ofstream(path, std::ios::binary) << actual;
        return;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << "missing golden " << path << "; run scripts/bless-goldens to create it";
    std::stringstream expected;
    expected << in.rdbuf();
    EXPECT_EQ(expected.str(), actual) << "output differs from " << path
                                      << "; if the change is intended, run scripts/bless-goldens";
}

}  // namespace cwtrace::fixtures
