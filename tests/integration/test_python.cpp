// Python frames in opening stacks: a crawler using Debian's python3-requests leaks
// connections to a keep-alive server that closes its side; the report names the script's
// functions and requests' own, merged with libc's connect and the kernel's tcp_v4_connect.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

// The line of the fixture's source that contains `needle` (1-based), or 0.
int fixture_line(const std::string& needle) {
    std::ifstream in(FX_PYTHON_CRAWLER);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(needle) != std::string::npos) return n;
    return 0;
}

std::string describe(const json& stack) {
    std::string out;
    for (const auto& f : stack) {
        out += f.at("function").get<std::string>();
        if (f.contains("line"))
            out += "@" + f.at("file").get<std::string>() + ":" + f.at("line").dump();
        out += "\n";
    }
    return out;
}

// Index of the first frame (innermost first) named `function` whose file ends with `file`.
std::optional<size_t> find_frame(const json& stack, const std::string& function,
                                 const std::string& file, size_t from = 0) {
    for (size_t i = from; i < stack.size(); ++i) {
        const json& f = stack[i];
        if (f.at("function") != function) continue;
        if (file.empty() || (f.contains("file") && f.at("file").get<std::string>().ends_with(file)))
            return i;
    }
    return std::nullopt;
}

class PythonStacks : public ::testing::Test {
  protected:
    void SetUp() override {
        if (access(kPython, X_OK) != 0)
            GTEST_SKIP() << kPython << " missing (scripts/install-deps)";
        server_ = std::make_unique<Process>(std::vector<std::string>{kPython, FX_PYTHON_SERVER});
        auto line = server_->wait_line("port ", 10s);
        ASSERT_TRUE(line) << server_->err();
        port_ = std::stoi(line->substr(5));
    }

    std::unique_ptr<Process> server_;
    int port_ = 0;
};

TEST_F(PythonStacks, RequestsLeakShowsTheScriptsAndRequestsFrames) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process crawler({kPython, FX_PYTHON_CRAWLER, std::to_string(port_), "3"});
    ASSERT_TRUE(crawler.wait_line("ready", 20s)) << crawler.err();
    std::this_thread::sleep_for(1500ms);

    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    const json report = json::parse(cwtrace->out());
    const auto leaked = sockets_with_port(report, "remote", port_);
    ASSERT_EQ(leaked.size(), 3u) << report.dump(2);

    // Outermost, consecutive: requests' public path, then the fixture's functions, each at the
    // line of its call.
    struct Expected {
        const char* function;
        const char* file;
        int line;  // 0: any
    };
    const std::vector<Expected> outermost = {
        {"HTTPAdapter.send", "requests/adapters.py", 0},
        {"Session.send", "requests/sessions.py", 0},
        {"Session.request", "requests/sessions.py", 0},
        {"request", "requests/api.py", 0},
        {"get", "requests/api.py", 0},
        {"fetch_page", "leaky_crawler.py", fixture_line("/page\"")},
        {"crawl", "leaky_crawler.py", fixture_line("        fetch_page(port)")},
        {"main", "leaky_crawler.py", fixture_line("    crawl(port, n, len(")},
        {"<module>", "leaky_crawler.py", fixture_line("    main()")}};
    for (size_t i = outermost.size() - 4; i < outermost.size(); ++i)
        ASSERT_GT(outermost[i].line, 0) << outermost[i].function << " in the fixture";
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("pid"), crawler.pid());
        const json& stack = s.at("origin").at("user_stack");
        const std::string seen = describe(stack);
        // Innermost: libc's connect(); then the interpreter's own frames; then the Python
        // frames, innermost first, from urllib3's create_connection().
        EXPECT_TRUE(innermost_in_libc(stack, "connect"));
        size_t first_python = 0;
        while (first_python < stack.size() &&
               !stack[first_python].value("file", "").ends_with(".py"))
            ++first_python;
        ASSERT_LT(first_python, stack.size()) << seen;
        EXPECT_EQ(find_frame(stack, "create_connection", "urllib3/util/connection.py"),
                  std::optional<size_t>(first_python))
            << seen;
        EXPECT_TRUE(find_frame(stack, "HTTPConnectionPool.urlopen", "urllib3/connectionpool.py",
                               first_python))
            << seen;
        ASSERT_GE(stack.size(), first_python + outermost.size()) << seen;
        const size_t tail = stack.size() - outermost.size();
        for (size_t i = 0; i < outermost.size(); ++i) {
            const json& f = stack[tail + i];
            EXPECT_EQ(f.at("function"), outermost[i].function) << seen;
            EXPECT_TRUE(f.value("file", "").ends_with(outermost[i].file)) << seen;
            if (outermost[i].line) {
                EXPECT_EQ(f.value("line", 0), outermost[i].line) << seen;
            }
        }
        // The crawler's own line leads, not requests', urllib3's or the interpreter's.
        const json& origin = s.at("origin");
        ASSERT_TRUE(origin.at("own_frame").is_number()) << origin.dump();
        EXPECT_EQ(stack.at(origin.at("own_frame").get<size_t>()), origin.at("own")) << seen;
        EXPECT_EQ(origin.at("own").at("function"), "fetch_page") << seen;
        EXPECT_EQ(origin.at("own").value("line", 0), fixture_line("/page\"")) << seen;
        // Every Python frame has a line.
        for (const auto& f : stack)
            if (f.contains("file")) {
                EXPECT_TRUE(f.contains("line")) << seen;
            }

        bool tcp_v4_connect = false;
        for (const auto& f : s.at("origin").at("kernel_stack"))
            tcp_v4_connect |= f.at("function") == "tcp_v4_connect";
        EXPECT_TRUE(tcp_v4_connect);
    }
    EXPECT_EQ(report.at("stats").at("lost").at("python_stacks_lost"), 0);
}

// Group blocks of a text report ("#1 ...", up to the next one) that mention `needle`.
std::vector<std::string> text_groups_with(const std::string& text, const std::string& needle) {
    std::vector<std::string> groups;
    std::istringstream in(text);
    std::string line, current;
    auto flush = [&] {
        if (current.find(needle) != std::string::npos) groups.push_back(current);
        current.clear();
    };
    while (std::getline(in, line)) {
        if (line.starts_with("#")) flush();
        current += line + "\n";
    }
    flush();
    return groups;
}

TEST_F(PythonStacks, TwoFunctionsAreTwoGroups) {
    auto cwtrace = start_cwtrace({"--min-age", "1s"});
    if (!cwtrace) return;
    Process crawler({kPython, FX_PYTHON_CRAWLER, std::to_string(port_), "2", "two"});
    ASSERT_TRUE(crawler.wait_line("ready", 20s)) << crawler.err();
    std::this_thread::sleep_for(1500ms);

    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    const auto groups = text_groups_with(cwtrace->out(), "127.0.0.1:" + std::to_string(port_));
    ASSERT_EQ(groups.size(), 2u) << cwtrace->out();
    const int page = fixture_line("/page\""), image = fixture_line("/image.png\"");
    int pages = 0, images = 0;
    for (const auto& g : groups) {
        EXPECT_NE(g.find("2 sockets"), std::string::npos) << g;
        pages += g.find("fetch_page (" FX_PYTHON_CRAWLER ":" + std::to_string(page) + ")") !=
                 std::string::npos;
        images += g.find("fetch_image (" FX_PYTHON_CRAWLER ":" + std::to_string(image) + ")") !=
                  std::string::npos;
    }
    EXPECT_EQ(pages, 1) << cwtrace->out();
    EXPECT_EQ(images, 1) << cwtrace->out();
    for (const auto& g : groups) {
        // Headed by the crawler's line; the libraries between libc's connect and requests' get
        // folded into one line, get and the crawler's own frames shown.
        EXPECT_TRUE(
            g.find("  2 sockets opened in fetch_page (leaky_crawler.py:" + std::to_string(page) +
                   ") by connect()") == 2 ||
            g.find("  2 sockets opened in fetch_image (leaky_crawler.py:" + std::to_string(image) +
                   ") by connect()") == 2)
            << g;
        // (The interpreter's native frames before them depend on how stacks are recorded.)
        EXPECT_NE(g.find("urllib3, http.client, requests …\n"), std::string::npos) << g;
        EXPECT_EQ(g.find("create_connection"), std::string::npos) << g;
        EXPECT_NE(g.find("      get (/usr/lib/python3/dist-packages/requests/api.py:"),
                  std::string::npos)
            << g;
        EXPECT_NE(g.find("      crawl (" FX_PYTHON_CRAWLER ":"), std::string::npos) << g;
    }
}

// --full-stacks: every frame of the path, each on a line of its own, nothing folded.
TEST_F(PythonStacks, FullStacksShowEveryFrame) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "--full-stacks"});
    if (!cwtrace) return;
    Process crawler({kPython, FX_PYTHON_CRAWLER, std::to_string(port_), "2"});
    ASSERT_TRUE(crawler.wait_line("ready", 20s)) << crawler.err();
    std::this_thread::sleep_for(1500ms);

    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    const auto groups = text_groups_with(cwtrace->out(), "127.0.0.1:" + std::to_string(port_));
    ASSERT_EQ(groups.size(), 1u) << cwtrace->out();
    const std::string& g = groups[0];
    EXPECT_EQ(g.find(" frames in "), std::string::npos) << g;
    for (const char* frame : {"      create_connection (…/", "      HTTPConnectionPool.urlopen (",
                              "      HTTPConnection.request (", "      Session.request (",
                              "      get (", "      fetch_page (", "      crawl ("})
        EXPECT_NE(g.find(frame), std::string::npos) << frame << "\n" << g;
}

}  // namespace
