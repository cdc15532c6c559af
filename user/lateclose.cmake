# Late closes and time in CLOSE_WAIT (issue 9): who closed a socket, folded per code path.
# Included from user/CMakeLists.txt.
target_sources(cwtrace_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/late_closes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/render_late_closes.cpp
)
