# Sources added by one component; included from the CMakeLists.txt beside it.
# Continuous mode (issue 9): Prometheus exposition, its HTTP server (cpp-httplib) and textfile.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
find_package(Threads REQUIRED)
target_sources(cwtrace_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics_exporter.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics_textfile.cpp
)
target_link_libraries(cwtrace_core PRIVATE PkgConfig::HTTPLIB Threads::Threads)
