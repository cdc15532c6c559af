// Lines and blank-separated fields of /proc-style text.
#include <gtest/gtest.h>

#include "util/fields.h"

namespace cwtrace {
namespace {

TEST(Fields, LinesSplitOnNewlinesAndTheLastNeedsNone) {
    std::string_view text = "a b\n\nc";
    EXPECT_EQ(next_line(text), "a b");
    EXPECT_EQ(next_line(text), "");
    EXPECT_EQ(next_line(text), "c");
    EXPECT_TRUE(text.empty());
    EXPECT_EQ(next_line(text), "");
}

TEST(Fields, FieldsSplitOnRunsOfSpacesTabsAndCarriageReturns) {
    std::string_view line = "  ffffffff81000000\tT  _stext \r";
    EXPECT_EQ(next_field(line), "ffffffff81000000");
    EXPECT_EQ(next_field(line), "T");
    EXPECT_EQ(next_field(line), "_stext");
    EXPECT_EQ(next_field(line), "");
    EXPECT_TRUE(line.empty());
}

TEST(Fields, HexIsWholeFieldsOnly) {
    EXPECT_EQ(parse_hex("ffffffff81000000"), 0xffffffff81000000ULL);
    EXPECT_EQ(parse_hex("0"), 0u);
    EXPECT_EQ(parse_hex(""), std::nullopt);
    EXPECT_EQ(parse_hex("0x10"), std::nullopt);
    EXPECT_EQ(parse_hex("12g"), std::nullopt);
    EXPECT_EQ(parse_hex("10000000000000000"), std::nullopt);  // over 64 bits
}

}  // namespace
}  // namespace cwtrace
