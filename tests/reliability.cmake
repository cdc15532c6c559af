# Sources added by one component; included from the CMakeLists.txt beside it.
# Reliability (issue 7): integration tests of identity, concurrency and loss; libFuzzer targets
# for the ring-buffer decoder and the `render` JSON reader, built only in a clang build with
# -DCWTRACE_FUZZ=ON (scripts/fuzz makes one and runs them).
target_sources(integration_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/integration/test_reliability.cpp)

if(CWTRACE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CWTRACE_FUZZ needs clang: -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  foreach(target fuzz_decoder fuzz_report_reader)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/fuzz/${target}.cpp)
    target_link_libraries(${target} PRIVATE cwtrace_core)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  endforeach()
endif()
