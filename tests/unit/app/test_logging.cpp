// Log lines carry strings other processes chose (a comm, a mapped path, an environment value):
// written escaped, as the reports write them (issue 25: ESC and BEL reached the terminal raw).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

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
