// The user's own code in an opening path: the innermost frame that belongs to the program,
// not to libc, the language's runtime, its standard library or third-party packages. A leak is
// fixed in the user's code, and that frame is often twenty frames down (a `requests` crawler:
// libc, the interpreter, urllib3, http.client, requests, then the crawler's line), so a report
// leads with it. Whose a frame is is read from the frame alone (module, file, function) and,
// for Go, whose runtime lives in the main executable, from the stack it is in. `--own` patterns
// make more frames the user's.
#pragma once

#include <cstddef>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "model/report.h"
#include "util/result.h"

namespace cwtrace {

class OwnCode {
  public:
    OwnCode() = default;
    // `patterns` (ECMAScript regular expressions, searched, not anchored) in a frame's function,
    // module or file make it the user's. An invalid one is an error naming it.
    static Result<OwnCode> with_patterns(const std::vector<std::string>& patterns);

    // Index into `user_stack` (innermost first) of the innermost own frame; nullopt when none
    // is (a stack of only libraries, or not captured).
    std::optional<size_t> first_own(const std::vector<Frame>& user_stack) const;

    // For each frame of `user_stack`, whether it is the user's (as first_own() judges a frame).
    std::vector<bool> own_frames(const std::vector<Frame>& user_stack) const;

  private:
    bool is_own(const Frame& frame, bool in_go) const;

    std::vector<std::regex> patterns_;
};

// The library a frame that is not the user's belongs to, to fold a run of them into one line
// ("11 frames in urllib3, http.client"): a Python package (third-party: its top level; the
// standard library: the module, "http.client"), a shared object without its version
// ("libc"), a Go package ("net/http"), a Node module ("node:net", a node_modules package), a
// Java package ("java.net"); "" when nothing names one.
std::string library_of(const Frame& frame);

// Whether a frame's module is a perf map (/tmp/perf-PID.map, as a JIT writes it): code named
// from it, not from a file of its own.
bool is_perf_map(std::string_view module);

// A Go function's package: "net/http.(*Transport).dial" -> "net/http", "main.leak" -> "main";
// "" when the name is not one (no dot in its last path element).
std::string_view go_package(std::string_view fn);

}  // namespace cwtrace
