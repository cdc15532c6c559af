# Python frames in opening stacks (issue 8): CPython offsets, line tables, reading interpreters.
# Included from user/CMakeLists.txt.
target_sources(cwtrace_core PRIVATE
  python_offsets.cpp
  python_linetable.cpp
  python_process.cpp
  python_stacks.cpp)
