#include "python/python_offsets.h"

#include <array>
#include <charconv>

namespace cwtrace {
namespace {

// Each row was taken from that version's own headers (offsetof() with Py_BUILD_CORE, x86-64,
// release build) and is exercised against a live interpreter by the integration tests; see the
// README for which versions are tested. A version is added here only once verified that way:
// 3.8-3.10 keep PyFrameObject chains (f_back, f_lasti) and 3.12/3.13 moved fields, so their
// rows need the kernel side's frame model extended, not just numbers.
constexpr std::array kTable = {
    PythonOffsets{
        .version = {3, 11},
        .runtime_interp_head = 40,       // _PyRuntimeState.interpreters.head
        .interp_threads_head = 16,       // PyInterpreterState.threads.head
        .tstate_next = 8,                // PyThreadState.next
        .tstate_native_thread_id = 160,  // PyThreadState.native_thread_id
        .tstate_cframe = 56,             // PyThreadState.cframe
        .cframe_current_frame = 8,       // _PyCFrame.current_frame
        .frame_code = 32,                // _PyInterpreterFrame.f_code
        .frame_previous = 48,            // _PyInterpreterFrame.previous
        .frame_prev_instr = 56,          // _PyInterpreterFrame.prev_instr
        .code_adaptive = 184,            // PyCodeObject.co_code_adaptive
        .code_filename = 112,
        .code_name = 120,
        .code_qualname = 128,
        .code_linetable = 136,
        .code_firstlineno = 72,
        .code_size = 184,
        .bytes_size = 16,            // PyVarObject.ob_size
        .bytes_data = 32,            // PyBytesObject.ob_sval
        .unicode_length = 16,        // PyASCIIObject.length
        .unicode_state = 32,         // PyASCIIObject.state
        .unicode_ascii_data = 48,    // sizeof(PyASCIIObject)
        .unicode_compact_data = 72,  // sizeof(PyCompactUnicodeObject)
        .line_table = LineTableFormat::Locations,
    },
};

std::optional<int> leading_number(std::string_view& s) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || ptr == s.data()) return std::nullopt;
    s.remove_prefix(static_cast<size_t>(ptr - s.data()));
    return value;
}

}  // namespace

std::string to_string(PythonVersion version) {
    return std::to_string(version.major) + "." + std::to_string(version.minor);
}

std::optional<PythonOffsets> python_offsets(PythonVersion version) {
    for (const PythonOffsets& row : kTable)
        if (row.version == version) return row;
    return std::nullopt;
}

std::optional<PythonVersion> python_version_of_file(std::string_view name) {
    for (std::string_view prefix : {"libpython", "python"}) {
        if (!name.starts_with(prefix)) continue;
        name.remove_prefix(prefix.size());
        auto major = leading_number(name);
        if (!major || name.empty() || name.front() != '.') return std::nullopt;
        name.remove_prefix(1);
        auto minor = leading_number(name);
        if (!minor) return std::nullopt;
        // What may follow: an ABI flag, a ".so" suffix, a "-dbg"-style variant.
        if (!name.empty() && name.front() != '.' && name.front() != '-' && name.front() != 'd' &&
            name.front() != 'm' && name.front() != 't')
            return std::nullopt;
        return PythonVersion{*major, *minor};
    }
    return std::nullopt;
}

cw_python_proc kernel_offsets(const PythonOffsets& o) {
    cw_python_proc p = {};
    p.runtime_interp_head = o.runtime_interp_head;
    p.interp_threads_head = o.interp_threads_head;
    p.tstate_next = o.tstate_next;
    p.tstate_native_thread_id = o.tstate_native_thread_id;
    p.tstate_cframe = o.tstate_cframe;
    p.cframe_current_frame = o.cframe_current_frame;
    p.frame_code = o.frame_code;
    p.frame_previous = o.frame_previous;
    p.frame_prev_instr = o.frame_prev_instr;
    p.code_adaptive = o.code_adaptive;
    return p;
}

}  // namespace cwtrace
