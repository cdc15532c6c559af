# Late closes and time in CLOSE_WAIT (issue 9). Included from tests/CMakeLists.txt.
target_sources(unit_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/unit/test_late_closes.cpp)
target_sources(integration_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/integration/test_lateclose.cpp)
