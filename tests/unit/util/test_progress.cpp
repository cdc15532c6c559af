// The progress line (util/progress): drawn only after its delay, at most once per interval,
// erased at the end, and never when not shown (stderr not a terminal, --quiet).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "util/progress.h"

namespace cwtrace {
namespace {

constexpr uint64_t kMs = 1'000'000;

struct Recorded {
    std::vector<std::string> writes;
    ProgressLine::Write sink() {
        return [this](std::string_view text) { writes.emplace_back(text); };
    }
};

TEST(Progress, NothingBeforeTheDelayThenOneLineRewrittenInPlace) {
    Recorded out;
    ProgressLine line(true, out.sink(), 1000 * kMs, 100 * kMs);
    line.begin("start", 0);
    line.set("dumped", "dumped 4,096 sockets", 999 * kMs);
    EXPECT_TRUE(out.writes.empty());
    line.set("dumped", "dumped 8,192 sockets", 1000 * kMs);
    line.set("owners", "owners 80%", 1050 * kMs);  // within the interval: kept, not drawn
    ASSERT_EQ(out.writes.size(), 1u);
    EXPECT_EQ(out.writes[0], "\r\x1b[Kstart: dumped 8,192 sockets");
    line.set("owners", "owners 90%", 1100 * kMs);
    ASSERT_EQ(out.writes.size(), 2u);
    EXPECT_EQ(out.writes[1], "\r\x1b[Kstart: dumped 8,192 sockets \u2026 owners 90%");
    line.end();
    ASSERT_EQ(out.writes.size(), 3u);
    EXPECT_EQ(out.writes[2], "\r\x1b[K");
    line.set("owners", "owners 100%", 5000 * kMs);  // ended: nothing more
    line.end();
    EXPECT_EQ(out.writes.size(), 3u);
}

TEST(Progress, QuickWorkDrawsAndErasesNothing) {
    Recorded out;
    ProgressLine line(true, out.sink(), 1000 * kMs, 100 * kMs);
    line.begin("report", 50 * kMs);
    line.set("sockets", "sockets 50%", 900 * kMs);
    line.end();
    EXPECT_TRUE(out.writes.empty());
}

TEST(Progress, NotShownWritesNothingAndHasNoParts) {
    Recorded out;
    ProgressLine line(false, out.sink(), 0, 0);
    line.begin("start", 0);
    line.set("dumped", "dumped 1 socket", 10 * kMs);
    line.erase();
    line.end();
    EXPECT_TRUE(out.writes.empty());
    EXPECT_FALSE(line.part("owners"));  // the libraries are handed nothing to call
}

// A log line erases the drawn line; the next step draws it again, whatever the interval.
TEST(Progress, ErasedForALogLineThenDrawnAgain) {
    Recorded out;
    ProgressLine line(true, out.sink(), 0, 100 * kMs);
    line.begin("start", 0);
    line.set("dumped", "dumped 1 socket", 1 * kMs);
    line.erase();
    line.erase();  // erased once only
    line.set("dumped", "dumped 2 sockets", 2 * kMs);
    EXPECT_EQ(out.writes, (std::vector<std::string>{"\r\x1b[Kstart: dumped 1 socket", "\r\x1b[K",
                                                    "\r\x1b[Kstart: dumped 2 sockets"}));
}

TEST(Progress, NewWorkStartsAfresh) {
    Recorded out;
    ProgressLine line(true, out.sink(), 0, 0);
    line.begin("start", 0);
    line.set("dumped", "dumped 3 sockets", 1);
    line.begin("report", 2);  // erases the start's line, forgets its parts
    line.set("sockets", "sockets 10%", 3);
    EXPECT_EQ(out.writes.back(), "\r\x1b[Kreport: sockets 10%");
    EXPECT_EQ(out.writes[1], "\r\x1b[K");
}

TEST(Progress, PartsSayCountsAndPercentages) {
    Recorded out;
    ProgressLine line(true, out.sink(), 0, 0);
    line.begin("start", 0);
    line.part("dumped", "sockets")(412000, 0);
    EXPECT_EQ(out.writes.back(), "\r\x1b[Kstart: dumped 412,000 sockets");
    line.part("owners")(4, 5);
    EXPECT_EQ(out.writes.back(), "\r\x1b[Kstart: dumped 412,000 sockets \u2026 owners 80%");
    line.part("owners")(7, 5);  // more done than the total (processes appeared): 100%
    EXPECT_EQ(out.writes.back(), "\r\x1b[Kstart: dumped 412,000 sockets \u2026 owners 100%");
}

TEST(Progress, Thousands) {
    EXPECT_EQ(thousands(0), "0");
    EXPECT_EQ(thousands(999), "999");
    EXPECT_EQ(thousands(1000), "1,000");
    EXPECT_EQ(thousands(412000), "412,000");
    EXPECT_EQ(thousands(1234567), "1,234,567");
}

}  // namespace
}  // namespace cwtrace
