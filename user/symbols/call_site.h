// Tells whether an address is a return address: the instruction before it is a call.
#pragma once

#include <cstdint>
#include <string>

namespace cwtrace {

// `file_offset` is the address's offset in the mapped file `path`. x86-64 only; false elsewhere.
// The same decoding as the kernel side's search for it (cwtrace/call_insn.h).
bool follows_call(const std::string& path, uint64_t file_offset);
// The same in the file open at `fd` (a mapped file, see ProcessMaps::open_file).
bool follows_call(int fd, uint64_t file_offset);

}  // namespace cwtrace
