# Native user stacks without frame pointers, perf maps, symbols (issue 8).
# Included from tests/CMakeLists.txt.

# leaky_client built as distributions build their code: -O2 without frame pointers. Functions
# stay out of line and calls stay calls, so the chain the test expects exists in the binary.
add_executable(fx_nofp_client fixtures/leaky_client.c fixtures/fixture_common.c)
# Never instrumented, in the sanitizer build too (as a distribution would ship it): its stack
# then holds the same words at each opening from the same path, which the kernel's unwind memo
# test relies on.
target_compile_options(fx_nofp_client PRIVATE -O2 -fomit-frame-pointer -fno-inline
                                              -fno-optimize-sibling-calls -fno-ipa-icf
                                              -fno-sanitize=all)
target_link_options(fx_nofp_client PRIVATE -fno-sanitize=all)
set_target_properties(fx_nofp_client PROPERTIES OUTPUT_NAME nofp_client)

target_sources(integration_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/integration/test_dwarf.cpp)
target_compile_definitions(integration_tests PRIVATE FX_NOFP_CLIENT="$<TARGET_FILE:fx_nofp_client>")
add_dependencies(integration_tests fx_nofp_client)

# Unit tests: the unwinder on a recorded stack (built -O2 without frame pointers), perf maps,
# demangling, DWARF file:line and build-id debug files (on symbolize_fixture, built with -g).
target_sources(unit_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/unit/test_unwind.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/test_unwind_memo.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/test_dwarf_symbols.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/test_user_stack_record.cpp)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/unit/test_unwind.cpp PROPERTIES
  COMPILE_OPTIONS "-O2;-fomit-frame-pointer")
target_compile_options(symbolize_fixture PRIVATE -g)
target_compile_definitions(unit_tests PRIVATE
  CWTRACE_SYMBOLIZE_FIXTURE_SOURCE="${CMAKE_CURRENT_LIST_DIR}/unit/symbolize_fixture.c")
