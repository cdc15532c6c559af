// Log lines carry strings other processes chose (a comm, a mapped path, an environment value):
// written escaped, as the reports write them (issue 25: ESC and BEL reached the terminal raw).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>
#include <vector>

#include "app/logging.h"

namespace cwtrace {
namespace {

std::string logged(const std::string& comm) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    spdlog::logger logger("test", sink);
    logger.set_formatter(log_formatter());
    logger.warn("pid {} ({}): cannot read its mappings", 42, comm);
    return out.str();
}

TEST(Logging, ControlCharactersInACommAreEscaped) {
    EXPECT_EQ(logged("\x1b]0;owned\x07\x1b[2J"),
              "cwtrace: pid 42 (\\x1b]0;owned\\x07\\x1b[2J): cannot read its mappings\n");
    EXPECT_EQ(logged("a\rb\nc\xC2\x9B"),
              "cwtrace: pid 42 (a\\x0db\\x0ac\\xc2\\x9b): cannot read its mappings\n");
    EXPECT_EQ(logged("bad\xFFutf8"), "cwtrace: pid 42 (bad\\xffutf8): cannot read its mappings\n");
}

TEST(Logging, PlainTextIsUnchanged) {
    EXPECT_EQ(logged("nginx: worker é"),
              "cwtrace: pid 42 (nginx: worker é): cannot read its mappings\n");
}

}  // namespace
}  // namespace cwtrace

namespace cwtrace {
namespace {

// setup_logging replaces the default logger; each test puts the previous one back.
class LoggingLevels : public ::testing::Test {
  protected:
    void TearDown() override { spdlog::set_default_logger(previous_); }
    std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
};

// --quiet: errors and warnings (a loss, a missing capability) only; -v: debug too.
TEST_F(LoggingLevels, QuietKeepsWarningsOnly) {
    setup_logging(LogLevel::Quiet);
    EXPECT_FALSE(spdlog::should_log(spdlog::level::info));
    EXPECT_TRUE(spdlog::should_log(spdlog::level::warn));
    setup_logging(LogLevel::Normal);
    EXPECT_TRUE(spdlog::should_log(spdlog::level::info));
    EXPECT_FALSE(spdlog::should_log(spdlog::level::debug));
    setup_logging(LogLevel::Verbose);
    EXPECT_TRUE(spdlog::should_log(spdlog::level::debug));
}

// A log line erases the progress line first, so it never lands after the line's text.
TEST_F(LoggingLevels, ALogLineErasesTheProgressLineFirst) {
    std::vector<std::string> drawn;
    ProgressLine progress(
        true, [&](std::string_view text) { drawn.emplace_back(text); }, 0, 0);
    setup_logging(LogLevel::Normal, &progress);
    progress.begin("start", 0);
    progress.set("dumped", "dumped 1 socket", 1);
    spdlog::warn("a warning while the progress line is drawn");
    EXPECT_EQ(drawn, (std::vector<std::string>{"\r\x1b[Kstart: dumped 1 socket", "\r\x1b[K"}));
    progress.end();
    spdlog::set_default_logger(previous_);  // before `progress` goes
}

}  // namespace
}  // namespace cwtrace
