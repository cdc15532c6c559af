#include <gtest/gtest.h>

#include "util/duration.h"

using namespace cwtrace;
using namespace std::chrono_literals;

TEST(Duration, ParsesEveryUnit) {
    EXPECT_EQ(parse_duration("250ms"), Nanos(250ms));
    EXPECT_EQ(parse_duration("30s"), Nanos(30s));
    EXPECT_EQ(parse_duration("2m"), Nanos(2min));
    EXPECT_EQ(parse_duration("1h"), Nanos(1h));
}

TEST(Duration, BareNumberMeansSeconds) {
    EXPECT_EQ(parse_duration("10"), Nanos(10s));
    EXPECT_EQ(parse_duration("0"), Nanos(0));
    EXPECT_EQ(parse_duration("1.5"), Nanos(1500ms));
}

TEST(Duration, DecimalsAndCompounds) {
    EXPECT_EQ(parse_duration("1.5h"), Nanos(90min));
    EXPECT_EQ(parse_duration("1m30s"), Nanos(90s));
    EXPECT_EQ(parse_duration("1h2m3s4ms"), Nanos(1h + 2min + 3s + 4ms));
    EXPECT_EQ(parse_duration(".5s"), Nanos(500ms));
}

TEST(Duration, RejectsMalformed) {
    for (const char* bad : {"", "abc", "-5s", "10x", "1e999", "s", "1m30", "1 s", "5s ", "+5s",
                            "1..5s", "ms", "99999999999999999999s"}) {
        EXPECT_EQ(parse_duration(bad), std::nullopt) << "'" << bad << "'";
    }
}

TEST(Duration, RejectsOverflow) {
    EXPECT_EQ(parse_duration("300000000h"), std::nullopt);
    EXPECT_NE(parse_duration("1000000h"), std::nullopt);
}

// One form for a setting wherever it is written: the start's line on stderr said "min-age 1.0s"
// while the report said "min-age 1s".
TEST(Duration, SettingsForPeople) {
    EXPECT_EQ(human_setting(Nanos(1s)), "1s");
    EXPECT_EQ(human_setting(1.0), "1s");
    EXPECT_EQ(human_setting(Nanos(30s)), "30s");
    EXPECT_EQ(human_setting(Nanos(1500ms)), "1.5s");
    EXPECT_EQ(human_setting(Nanos(250ms)), "250ms");
    EXPECT_EQ(human_setting(Nanos(90s)), "1m30s");
    EXPECT_EQ(human_setting(0.0), "0s");
}
