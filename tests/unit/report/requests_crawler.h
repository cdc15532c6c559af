// A live report of tests/fixtures/leaky_crawler.py ("two": fetch_page and fetch_image, three
// requests.get() leaks each), taken once with `cwtrace -f json` and kept in data/ (the fixture's
// path rewritten to /src/cwtrace/): the 25-frame opening paths the own-frame, folding and
// merging rules are for, as cwtrace really reports them.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "model/report.h"
#include "report/report_reader.h"

namespace cwtrace::fixtures {

inline Report requests_crawler_report() {
    std::ifstream in(std::string(CWTRACE_TEST_DATA_DIR) + "/requests_crawler.json");
    std::stringstream text;
    text << in.rdbuf();
    auto saved = read_report(text.str());
    EXPECT_TRUE(saved) << (saved ? "" : saved.error().message);
    return saved ? std::move(saved->report) : Report{};
}

// The opening path of the report's fetch_page sockets.
inline const Origin& fetch_page_origin(const Report& r) {
    for (const SocketEntry& s : r.sockets)
        if (s.origin->own() && s.origin->own()->function == "fetch_page") return s.origin;
    ADD_FAILURE() << "no fetch_page path in the report";
    static const Origin none;
    return none;
}

// The report with two more fetch_page sockets reached through a retry: urllib3's urlopen calling
// itself (connectionpool.py:815, as urllib3 1.26 retries), one frame more than the first path,
// the same own frame. Their ages are the oldest of the report.
inline Report requests_crawler_with_retry() {
    Report r = requests_crawler_report();
    Origin retry = fetch_page_origin(r);
    size_t urlopen = 0;
    while (urlopen < retry.user_stack.size() &&
           retry.user_stack[urlopen].function != "HTTPConnectionPool.urlopen")
        ++urlopen;
    EXPECT_LT(urlopen, retry.user_stack.size());
    Frame again = retry.user_stack[urlopen];
    again.line = 815;
    retry.user_stack.insert(retry.user_stack.begin() + static_cast<long>(urlopen) + 1, again);
    retry.own_frame = *retry.own_frame + 1;
    for (int i = 0; i < 2; ++i) {
        SocketEntry s = r.sockets.front();
        s.local.port = static_cast<uint16_t>(43100 + i);
        s.close_wait_seconds = 20.0 - i;
        s.origin = retry;
        r.sockets.push_back(s);
    }
    return r;
}

}  // namespace cwtrace::fixtures
