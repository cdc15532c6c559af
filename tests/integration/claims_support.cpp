// What the tests of the README's claims share beyond the harness (see claims_support.h).
#include "claims_support.h"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>

namespace cwtrace::testing {

namespace {

constexpr const char* kTracefsEvents = "/sys/kernel/tracing/events";

bool matches(const nlohmann::json& frame, const ExpectedFrame& expected) {
    auto field = [&](const char* name) { return frame.value(name, std::string()); };
    return field("function") == expected.function &&
           (expected.module.empty() || field("module") == expected.module) &&
           (expected.file.empty() || field("file") == expected.file ||
            field("file").ends_with("/" + expected.file)) &&
           (expected.line == 0 || frame.value("line", 0) == expected.line);
}

std::string describe(const std::vector<ExpectedFrame>& frames) {
    std::string out;
    for (const auto& f : frames)
        out += "  " + f.function + " (" + f.module + " " + f.file + ":" + std::to_string(f.line) +
               ")\n";
    return out;
}

// Whether frames[0..] match stack[at..].
bool matches_at(const nlohmann::json& stack, size_t at, const std::vector<ExpectedFrame>& frames) {
    if (at + frames.size() > stack.size()) return false;
    for (size_t i = 0; i < frames.size(); ++i)
        if (!matches(stack[at + i], frames[i])) return false;
    return true;
}

::testing::AssertionResult mismatch(const nlohmann::json& stack,
                                    const std::vector<ExpectedFrame>& frames) {
    return ::testing::AssertionFailure() << "expected\n"
                                         << describe(frames) << "in\n"
                                         << stack.dump(2);
}

}  // namespace

int line_of(const std::string& path, const std::string& needle) {
    std::ifstream in(path);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(needle) != std::string::npos) return n;
    return 0;
}

::testing::AssertionResult starts_with(const nlohmann::json& stack,
                                       const std::vector<ExpectedFrame>& frames) {
    if (matches_at(stack, 0, frames)) return ::testing::AssertionSuccess();
    return mismatch(stack, frames);
}

::testing::AssertionResult has_chain(const nlohmann::json& stack,
                                     const std::vector<ExpectedFrame>& chain) {
    for (size_t at = 0; at < stack.size(); ++at)
        if (matches_at(stack, at, chain)) return ::testing::AssertionSuccess();
    return mismatch(stack, chain);
}

size_t occurrences(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

Terminated::~Terminated() {
    if (pid > 0) kill(pid, SIGTERM);
}

TracefsRestored::TracefsRestored() : was_mounted_(access(kTracefsEvents, F_OK) == 0) {}

TracefsRestored::~TracefsRestored() {
    if (!was_mounted_ || access(kTracefsEvents, F_OK) == 0) return;
    ADD_FAILURE() << "tracefs was left unmounted: mounting it again";
    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr);
}

}  // namespace cwtrace::testing
