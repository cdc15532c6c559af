// CPython's internal structure layouts, per version: the one place that knows them. The kernel
// side walks thread states and frames with the first group of offsets (copied into
// cw_python_proc); userspace reads code objects and strings with the second.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cwtrace/abi.h"

namespace cwtrace {

struct PythonVersion {
    int major = 0, minor = 0;
    auto operator<=>(const PythonVersion&) const = default;
};

std::string to_string(PythonVersion version);  // "3.11"

// How co_linetable encodes instruction offset -> line.
enum class LineTableFormat {
    Lnotab,     // 3.8, 3.9: co_lnotab byte pairs
    LineTable,  // 3.10: co_linetable (start delta, line delta) pairs
    Locations,  // 3.11+: the location table (Objects/locations.md)
};

struct PythonOffsets {
    PythonVersion version;
    // Thread states and frames, for the kernel side (see cw_python_proc in abi.h).
    uint16_t runtime_interp_head, interp_threads_head, tstate_next, tstate_native_thread_id,
        tstate_cframe, cframe_current_frame, frame_code, frame_previous, frame_prev_instr,
        code_adaptive;
    // Code objects (PyCodeObject).
    uint16_t code_filename, code_name, code_qualname, code_linetable, code_firstlineno;
    uint16_t code_size;  // bytes read from a code object: covers every field above
    // bytes objects: ob_size and the first byte.
    uint16_t bytes_size, bytes_data;
    // str objects: length, the state bit field, where a compact ASCII / compact string's
    // characters start.
    uint16_t unicode_length, unicode_state, unicode_ascii_data, unicode_compact_data;
    LineTableFormat line_table;
};

// The layout of `version`, or nullopt when cwtrace does not know it (the report then says
// "python X.Y not supported" rather than reading memory with a wrong layout).
std::optional<PythonOffsets> python_offsets(PythonVersion version);

// "python3.11", "libpython3.11.so.1.0", "libpython3.11d.so", "python3.11-dbg" -> 3.11; other
// names (python3, python, ...) -> nullopt.
std::optional<PythonVersion> python_version_of_file(std::string_view basename);

// The kernel side's share of `offsets`, with the process identity left zero.
cw_python_proc kernel_offsets(const PythonOffsets& offsets);

}  // namespace cwtrace
