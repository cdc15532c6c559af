# Sources added by one component; included from the CMakeLists.txt beside it.
# Continuous mode (issue 9): exposition golden, label escaping, top-N, atomic textfile, the
# HTTP server on loopback; a real Prometheus scraping cwtrace (integration).
target_sources(unit_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/unit/test_metrics.cpp
)
# The test's HTTP client must see httplib's headers with the library's own definitions.
target_link_libraries(unit_tests PRIVATE PkgConfig::HTTPLIB)

add_executable(metrics_integration_tests
  ${CMAKE_CURRENT_LIST_DIR}/integration/test_metrics_prometheus.cpp
  ${CMAKE_CURRENT_LIST_DIR}/integration/harness.cpp)
target_link_libraries(metrics_integration_tests PRIVATE cwtrace_core PkgConfig::HTTPLIB GTest::gtest_main)
target_compile_definitions(metrics_integration_tests PRIVATE
  CWTRACE_BIN="$<TARGET_FILE:cwtrace>"
  FX_LEAKY_CLIENT="$<TARGET_FILE:fx_leaky_client>"
  FX_PEER="$<TARGET_FILE:fx_peer>")
add_dependencies(metrics_integration_tests cwtrace fx_leaky_client fx_peer)
gtest_discover_tests(metrics_integration_tests DISCOVERY_MODE PRE_TEST
  PROPERTIES RUN_SERIAL TRUE LABELS integration TIMEOUT 120)
