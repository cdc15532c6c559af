# Native user stacks without frame pointers (issue 8): the stack copy unwound with libdwfl.
# Included from user/CMakeLists.txt.
pkg_check_modules(LIBDW REQUIRED IMPORTED_TARGET libdw)

target_sources(cwtrace_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/unwind_dwarf.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unwind_memo.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unwound_stacks.cpp)
target_link_libraries(cwtrace_core PRIVATE PkgConfig::LIBDW)

# Symbols (issue 8): demangling, perf maps of JIT code, DWARF file:line and debug files.
target_sources(cwtrace_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/demangle.cpp
  ${CMAKE_CURRENT_LIST_DIR}/perf_map.cpp
  ${CMAKE_CURRENT_LIST_DIR}/debug_info.cpp)
