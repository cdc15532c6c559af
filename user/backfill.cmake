# Sources added by one component; included from the CMakeLists.txt beside it.
# Backfill (issue 5): sockets already in CLOSE_WAIT at start, and who holds them.
target_sources(cwtrace_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/sock_diag.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process_info.cpp
  ${CMAKE_CURRENT_LIST_DIR}/netns.cpp
)
