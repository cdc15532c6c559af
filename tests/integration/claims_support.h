// What the tests of the README's claims share beyond the harness: exact frames expected in a
// JSON stack, lines of the fixtures' sources, and clean-up that holds whatever a test does.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace cwtrace::testing {

inline constexpr const char* kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";

// A frame as the report must show it; empty fields (0 for the line) are not compared. A
// relative `file` matches a frame's file that ends with it (DWARF names sources as the build
// saw them, absolute or relative to its directory).
struct ExpectedFrame {
    ExpectedFrame(std::string function, std::string module, std::string file = {}, int line = 0)
        : function(std::move(function)),
          module(std::move(module)),
          file(std::move(file)),
          line(line) {}

    std::string function, module, file;
    int line;
};

// The line of `path` (1-based) that contains `needle`; 0 when none does.
int line_of(const std::string& path, const std::string& needle);

// Whether the stack (innermost first) begins with exactly these frames.
::testing::AssertionResult starts_with(const nlohmann::json& stack,
                                       const std::vector<ExpectedFrame>& frames);

// Whether these frames appear in the stack one after the other, nothing between them.
::testing::AssertionResult has_chain(const nlohmann::json& stack,
                                     const std::vector<ExpectedFrame>& chain);

// How often `needle` occurs in `text`.
size_t occurrences(const std::string& text, const std::string& needle);

// A process that is not our child (a fixture's orphan): SIGTERM when the test ends.
struct Terminated {
    pid_t pid;
    ~Terminated();
};

// tracefs at /sys/kernel/tracing as it was: remounted when a test left it unmounted.
class TracefsRestored {
  public:
    TracefsRestored();
    ~TracefsRestored();
    TracefsRestored(const TracefsRestored&) = delete;
    TracefsRestored& operator=(const TracefsRestored&) = delete;

  private:
    bool was_mounted_;
};

}  // namespace cwtrace::testing
