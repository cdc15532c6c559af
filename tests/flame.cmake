# Flame-style reports (issue 4). Included from tests/CMakeLists.txt.
find_package(LibXml2 REQUIRED)
find_package(ZLIB REQUIRED)

# Unit tests: golden files for every renderer, the renderers' output read back, the JSON
# report reader, `cwtrace render` on the command line.
target_sources(unit_tests PRIVATE
  unit/report_fixtures.cpp
  unit/test_flame.cpp
  unit/test_report_reader.cpp)
target_link_libraries(unit_tests PRIVATE LibXml2::LibXml2 ZLIB::ZLIB)

# The SVG in headless Chromium (Debian's chromium): opens offline without script errors, draws
# every frame, and its search and zoom give the expected counts.
add_executable(browser_tests browser/test_svg_chromium.cpp unit/report_fixtures.cpp)
target_include_directories(browser_tests PRIVATE unit)
target_link_libraries(browser_tests PRIVATE cwtrace_core GTest::gtest_main)
target_compile_definitions(browser_tests PRIVATE
  CWTRACE_GOLDEN_DIR="${CMAKE_CURRENT_SOURCE_DIR}/golden")
gtest_discover_tests(browser_tests DISCOVERY_MODE PRE_TEST PROPERTIES LABELS browser TIMEOUT 120)
