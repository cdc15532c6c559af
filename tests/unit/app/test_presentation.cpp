// The text report's layout for where it goes: a terminal's width and colour (a pseudo-terminal
// stands for one), 80 columns and no colour for a file, --width and --color over both, NO_COLOR.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "app/presentation.h"

namespace cwtrace {
namespace {

// A pseudo-terminal's slave end, 132 columns wide, as a stream.
class Terminal : public testing::Test {
  protected:
    void SetUp() override {
        master_ = posix_openpt(O_RDWR | O_NOCTTY);
        ASSERT_GE(master_, 0);
        ASSERT_EQ(grantpt(master_), 0);
        ASSERT_EQ(unlockpt(master_), 0);
        stream_ = std::fopen(ptsname(master_), "w");
        ASSERT_NE(stream_, nullptr);
        winsize size{};
        size.ws_col = 132;
        size.ws_row = 40;
        ASSERT_EQ(ioctl(fileno(stream_), TIOCSWINSZ, &size), 0);
        file_ = std::tmpfile();
        ASSERT_NE(file_, nullptr);
        unsetenv("NO_COLOR");
    }
    void TearDown() override {
        if (stream_) std::fclose(stream_);
        if (file_) std::fclose(file_);
        if (master_ >= 0) close(master_);
        unsetenv("NO_COLOR");
    }
    ReportContext for_stream(const Options& o, std::FILE* stream) {
        ReportContext c;
        set_presentation(c, o, stream);
        return c;
    }

    int master_ = -1;
    std::FILE* stream_ = nullptr;
    std::FILE* file_ = nullptr;
};

TEST_F(Terminal, ATerminalGetsItsWidthAndColour) {
    const ReportContext c = for_stream(Options{}, stream_);
    EXPECT_EQ(c.text_width, 132u);
    EXPECT_TRUE(c.color);
}

TEST_F(Terminal, AFileOrAPipeGets80ColumnsAndNoColour) {
    const ReportContext c = for_stream(Options{}, file_);
    EXPECT_EQ(c.text_width, 80u);
    EXPECT_FALSE(c.color);
    Options always;
    always.color = ColorMode::Always;
    EXPECT_FALSE(for_stream(always, nullptr).color) << "-o's file: never";
    EXPECT_TRUE(for_stream(always, file_).color) << "stdout redirected, colour asked for";
}

TEST_F(Terminal, NoColorAndNeverTurnItOff) {
    setenv("NO_COLOR", "1", 1);
    EXPECT_FALSE(for_stream(Options{}, stream_).color);
    setenv("NO_COLOR", "", 1);  // set but empty: no-color.org says it does not count
    EXPECT_TRUE(for_stream(Options{}, stream_).color);
    Options never;
    never.color = ColorMode::Never;
    EXPECT_FALSE(for_stream(never, stream_).color);
}

TEST_F(Terminal, WidthForcedOverTheTerminalsAndTheFiles) {
    Options o;
    o.width = 100;
    o.full_stacks = true;
    o.mark_own = true;
    for (std::FILE* s : {stream_, file_, static_cast<std::FILE*>(nullptr)}) {
        const ReportContext c = for_stream(o, s);
        EXPECT_EQ(c.text_width, 100u);
        EXPECT_TRUE(c.full_stacks);
        EXPECT_TRUE(c.mark_own);
    }
}

}  // namespace
}  // namespace cwtrace
