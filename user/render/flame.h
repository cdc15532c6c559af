// The report as flame-graph stacks: one stack per distinct opening path, weighted by the number
// of sockets it left in CLOSE_WAIT. Shared by the folded, SVG, speedscope and pprof renderers,
// so that they all draw the same picture.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/report.h"

namespace cwtrace {

enum class FlameKind {
    Process,      // the root: the opening process's comm
    User,         // native user-space code
    Interpreter,  // code of a language runtime (CPython, Node, Ruby, the JVM, ...)
    Kernel,
    Missing,  // a placeholder: "[missing user stack]", "[origin unknown]", ...
};

struct FlameFrame {
    std::string name;    // display-safe (see display.h); "[unknown]" when not symbolized
    std::string module;  // display-safe path of the mapped file; empty for kernel and placeholders
    FlameKind kind = FlameKind::User;
    // Where the code is (model/report.h's Frame), for pprof only: flame_stacks() fills these when
    // asked, so that the pictures, which merge by name, never split on them.
    std::optional<uint64_t> address = std::nullopt, file_offset = std::nullopt;
    std::string build_id = {};
    bool own = false;  // the path's first own frame (report/own_frame): drawn so the eye finds it

    auto operator<=>(const FlameFrame&) const = default;
};

struct FlameStack {
    std::vector<FlameFrame> frames;  // root first: comm, user outermost..innermost, then kernel
    uint64_t count = 0;              // the path's weight: sockets, or their seconds (FlameWeight)
};

// One socket's share of its path's weight.
uint64_t flame_weight_of(const SocketEntry& socket, FlameWeight weight);

// Placeholders for what a stack does not have.
inline constexpr const char* kMissingUserStack = "[missing user stack]";
inline constexpr const char* kMissingKernelStack = "[missing kernel stack]";
inline constexpr const char* kOriginUnknown = "[origin unknown]";
inline constexpr const char* kUnknownFrame = "[unknown]";

// One stack per distinct path (sockets with equal frames merged), sorted by frames, so the same
// report always gives the same stacks in the same order. The root frame is the comm of the
// process that opened the socket, or of its owner when the opener is unknown.
// `with_addresses`: user frames keep where their code is (pprof's locations and mappings).
std::vector<FlameStack> flame_stacks(const Report& report,
                                     FlameWeight weight = FlameWeight::Sockets,
                                     bool with_addresses = false);

// Sum of the counts: the number of sockets (or their seconds).
uint64_t flame_total(const std::vector<FlameStack>& stacks);

}  // namespace cwtrace
