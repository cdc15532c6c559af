// Fixed reports shared by the renderer tests (unit and browser), and the golden-file check.
// The reports cover: no sockets, IPv4 connect, IPv6 accept, unknown origin, unusual characters
// in names, one huge group and many tiny ones, lost events with a missing user stack, and
// interpreter frames with a missing kernel stack, sockets already in CLOSE_WAIT at start.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "model/report.h"

namespace cwtrace::fixtures {

inline constexpr const char* kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";

Frame uf(std::string function, std::string module);
Frame kf(std::string function);
std::vector<Frame> connect_kernel_stack();
Origin connect_origin(uint32_t pid, std::string comm, std::vector<Frame> user);
SocketEntry sock4(std::string local, uint16_t lport, std::string remote, uint16_t rport, double age,
                  std::optional<uint32_t> pid, std::optional<std::string> comm, Origin origin);
SocketEntry sock6(std::string local, uint16_t lport, std::string remote, uint16_t rport, double age,
                  std::optional<uint32_t> pid, std::optional<std::string> comm, Origin origin);
Report base_report(uint64_t events);

Report empty_report();
Report connect_ipv4_report();
Report accept_ipv6_report();
Report unknown_origin_report();
std::string long_template_name();
Report unusual_names_report();
Report big_and_tiny_report();
Report lost_events_report();
Report python_no_kernel_stack_report();
Report before_start_report();
// Sockets that left CLOSE_WAIT: late closes (close, exit, reset) and duration histograms.
Report late_closes_report();

// A named report, for parameterized tests.
struct Case {
    const char* name;
    Report (*make)();
};
const std::vector<Case>& cases();
void PrintTo(const Case& c, std::ostream* os);
std::string case_name(const testing::TestParamInfo<Case>& info);

// Compares `actual` with tests/golden/<file> byte for byte. A missing golden fails; with
// CWTRACE_BLESS=1 (scripts/bless-goldens) the golden is written instead.
void expect_golden(const std::string& file, const std::string& actual);

}  // namespace cwtrace::fixtures
