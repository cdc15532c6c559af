#include "app/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>

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

// stderr, after the progress line is erased: a log line never lands after its text.
class StderrSink : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit StderrSink(ProgressLine* progress) : progress_(progress) {}

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        if (progress_) progress_->erase();
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fflush(stderr);
    }
    void flush_() override { std::fflush(stderr); }

  private:
    ProgressLine* progress_;
};

}  // namespace

std::unique_ptr<spdlog::formatter> log_formatter() {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SafeMessage>('*').set_pattern("cwtrace: %*");
    return formatter;
}

void setup_logging(LogLevel level, ProgressLine* progress) {
    // A thread-safe sink: the start's walk logs from a thread.
    auto logger =
        std::make_shared<spdlog::logger>("cwtrace", std::make_shared<StderrSink>(progress));
    logger->set_formatter(log_formatter());
    logger->set_level(level == LogLevel::Verbose ? spdlog::level::debug
                      : level == LogLevel::Quiet ? spdlog::level::warn
                                                 : spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace cwtrace
