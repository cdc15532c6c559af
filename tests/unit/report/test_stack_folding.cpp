// Library frames folded on the opening paths of a live report (the requests crawler's 25
// frames): the opening call, the crawler's own lines and the requests function it called stay;
// the 19 frames of the interpreter, urllib3, http.client and requests fold into one line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "report/own_frame.h"
#include "report/stack_folding.h"
#include "report_fixtures.h"
#include "requests_crawler.h"

namespace cwtrace {
namespace {

using fixtures::kLibc;
using fixtures::uf;

// "connect | 19 in python3.11,urllib3,... | get | fetch_page | ...": what a reader sees.
std::string shape(const std::vector<Frame>& stack, const std::vector<StackLine>& lines) {
    std::string out;
    for (const StackLine& l : lines) {
        out += out.empty() ? "" : " | ";
        if (l.count == 1) {
            out += stack[l.first].function;
            continue;
        }
        out += std::to_string(l.count) + " in ";
        for (size_t i = 0; i < l.libraries.size(); ++i) out += (i ? "," : "") + l.libraries[i];
    }
    return out;
}

TEST(StackFolding, RequestsCrawlerFoldsToTheCallTheOwnLineMadeAndTheOwnLines) {
    const Report r = fixtures::requests_crawler_report();
    const Origin& o = fixtures::fetch_page_origin(r);
    ASSERT_EQ(o.user_stack.size(), 25u);
    ASSERT_EQ(o.own_frame, std::optional<uint32_t>(21));
    const auto lines = fold_library_frames(o.user_stack, o.own_frame);
    EXPECT_EQ(shape(o.user_stack, lines),
              "connect | 19 in python3.11,urllib3,http.client,requests | get | fetch_page | crawl "
              "| main | <module>");
    // Every frame is on exactly one line, in order.
    size_t next = 0;
    for (const StackLine& l : lines) {
        EXPECT_EQ(l.first, next);
        next += l.count;
    }
    EXPECT_EQ(next, o.user_stack.size());
}

TEST(StackFolding, EveryPathOfTheLiveReportKeepsItsOwnFrameVisible) {
    const Report r = fixtures::requests_crawler_with_retry();
    for (const SocketEntry& s : r.sockets) {
        const Origin& o = s.origin;
        ASSERT_TRUE(o.own_frame);
        bool own_shown = false;
        for (const StackLine& l : fold_library_frames(o.user_stack, o.own_frame))
            own_shown |= l.count == 1 && l.first == *o.own_frame;
        EXPECT_TRUE(own_shown) << o.user_stack[*o.own_frame].function;
    }
}

TEST(StackFolding, RunsShorterThanThreeAreShownNotFolded) {
    // connect, two library frames, the call the program made, the program's own function.
    std::vector<Frame> stack = {
        uf("connect", kLibc), uf("__connect_retry", kLibc),          uf("__nss_lookup", kLibc),
        uf("helper", kLibc),  uf("open_connection", "/usr/bin/app"), uf("start_thread", kLibc),
        uf("__clone3", kLibc)};
    EXPECT_EQ(shape(stack, fold_library_frames(stack, 4)),
              "connect | __connect_retry | __nss_lookup | helper | open_connection | "
              "start_thread | __clone3");
    stack.insert(stack.begin() + 1, uf("__connect_nocancel", kLibc));
    stack.push_back(uf("__clone_internal", kLibc));
    EXPECT_EQ(shape(stack, fold_library_frames(stack, 5)),
              "connect | 3 in libc | helper | open_connection | 3 in libc");
}

TEST(StackFolding, APathWithoutAnOwnFrameIsShownAsCaptured) {
    Report r = fixtures::requests_crawler_report();
    const std::vector<Frame> stack = fixtures::fetch_page_origin(r).user_stack;
    const std::vector<Frame> library_only(stack.begin(), stack.begin() + 21);
    const auto lines = fold_library_frames(library_only, std::nullopt);
    ASSERT_EQ(lines.size(), library_only.size());
    for (const StackLine& l : lines) EXPECT_EQ(l.count, 1u);
}

// Go: a folded run stays in one goroutine, so the line that names the creating one can go
// between the dialling goroutine's library frames and its creator's.
TEST(StackFolding, ARunStaysInOneGoroutine) {
    std::vector<Frame> stack;
    auto add = [&](const char* fn, uint8_t creator) {
        stack.push_back(Frame{fn, "/srv/app"});
        stack.back().creator = creator;
    };
    add("runtime/internal/syscall.Syscall6", 0);
    for (const char* fn : {"syscall.connect", "net.(*netFD).connect", "net/http.(*Transport).dial",
                           "runtime.goexit.abi0"})
        add(fn, 0);
    for (const char* fn : {"net/http.(*Transport).queueForDial", "net/http.(*Transport).getConn",
                           "net/http.(*Client).do", "net/http.Get"})
        add(fn, 1);
    add("main.fetchWithoutClose", 1);
    const auto lines = fold_library_frames(stack, 9);
    EXPECT_EQ(shape(stack, lines),
              "runtime/internal/syscall.Syscall6 | 4 in syscall,net,net/http,runtime | 3 in "
              "net/http | net/http.Get | main.fetchWithoutClose");
}

}  // namespace
}  // namespace cwtrace
