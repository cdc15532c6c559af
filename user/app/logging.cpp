#include "app/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "util/display.h"

namespace cwtrace {
namespace {

// The message of a log line (spdlog's %v) through display_safe.
class SafeMessage : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        const std::string safe = display_safe({msg.payload.data(), msg.payload.size()});
        dest.append(safe.data(), safe.data() + safe.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<SafeMessage>();
    }
};

}  // namespace

std::unique_ptr<spdlog::formatter> log_formatter() {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SafeMessage>('*').set_pattern("cwtrace: %*");
    return formatter;
}

void setup_logging(bool verbose) {
    auto logger = spdlog::stderr_logger_mt("cwtrace");  // the start's walk logs from a thread
    logger->set_formatter(log_formatter());
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace cwtrace
