// Small helpers the integration tests share: reading cwtrace's JSON report and the fixtures'
// output.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace cwtrace::testing {

// CWTRACE_REQUIRE_BPF=1 (CI): a test that cannot load BPF fails instead of being skipped.
inline bool bpf_required() {
    const char* v = std::getenv("CWTRACE_REQUIRE_BPF");
    return v && std::string(v) == "1";
}

#ifdef CWTRACE_BIN
// Starts cwtrace with `args` (and NAME=VALUE settings `env` in its environment) and waits until
// its programs are attached. nullptr when it could not start: the test has then failed (BPF
// required) or been marked skipped, and the caller returns.
inline std::unique_ptr<Process> start_cwtrace(std::vector<std::string> args,
                                              std::vector<std::string> env = {}) {
    using namespace std::chrono_literals;
    args.insert(args.begin(), CWTRACE_BIN);
    if (!env.empty()) {
        args.insert(args.begin(), env.begin(), env.end());
        args.insert(args.begin(), "/usr/bin/env");
    }
    auto p = std::make_unique<Process>(args);
    if (p->wait_stderr("tracing TCP", 20s)) return p;
    auto code = p->wait(2s);
    const std::string why = "cwtrace did not start (exit " +
                            (code ? std::to_string(*code) : std::string("?")) + "): " + p->err();
    if (bpf_required())
        ADD_FAILURE() << why;
    else
        [&] { GTEST_SKIP() << why; }();
    return nullptr;
}
#endif

// The function names of a JSON stack, innermost first.
inline std::vector<std::string> function_names(const nlohmann::json& stack) {
    std::vector<std::string> names;
    for (const auto& frame : stack) names.push_back(frame.at("function").get<std::string>());
    return names;
}

// The names on one line, for failure messages.
inline std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += n + " ";
    return out;
}

inline bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

// Whether `needles` appear in `names` in this order (not necessarily adjacent).
inline bool in_order(const std::vector<std::string>& names,
                     const std::vector<std::string>& needles) {
    auto it = names.begin();
    for (const auto& needle : needles) {
        it = std::find(it, names.end(), needle);
        if (it == names.end()) return false;
        ++it;
    }
    return true;
}

// The number in a fixture's line "word N" ("port 4242", "received 1234").
inline int number_after_space(const std::string& line) {
    return std::stoi(line.substr(line.find(' ') + 1));
}

// Nothing dropped by cwtrace itself (ring buffer, origin map, decoder). The other causes in
// stats.lost (stacks not captured, skipped program runs, unresolved accepts, Python stacks) also
// count what happens to other processes on the machine, such as tests running in parallel;
// where they touch a test's own sockets, its assertions on those sockets see it.
inline ::testing::AssertionResult nothing_dropped(const nlohmann::json& stats) {
    const auto& lost = stats.at("lost");
    for (const char* cause : {"ringbuf_full", "origin_map_full", "decode_errors"})
        if (lost.at(cause).get<uint64_t>() != 0)
            return ::testing::AssertionFailure() << cause << " in " << stats.dump();
    return ::testing::AssertionSuccess();
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace cwtrace::testing
