# Precompiled headers for the two large test programs: gtest, the standard headers most of their
# files include, and nlohmann/json where the integration harness brings it to every file
# (harness.h), parsed once per program instead of once per file. That parsing was 2-3 s of CPU
# in each of their ~100 files under the sanitizers' flags, whatever the file's own size (a file
# holding its #include lines alone: 2.5-3.2 s; with the header precompiled, 0.7-1.8 s). The
# programs of two or three files (browser_tests, metrics_integration_tests) gain nothing: the
# header's own build costs what it saves (5-7 s).
# Only third-party and standard headers go in: a change to cwtrace's own headers rebuilds what
# includes them, as without. The files built with options of their own (-O2: test_unwind*.cpp)
# keep including the headers themselves: gcc refuses a header precompiled at other optimization
# settings ("not used because `__NO_INLINE__' not defined"), and -Winvalid-pch (which CMake
# adds) is an error under CWTRACE_WERROR.
# -DCWTRACE_PCH=OFF builds the tests without (to see that each file includes what it uses).
option(CWTRACE_PCH "Precompile the test programs' third-party and standard headers" ON)
if(NOT CWTRACE_PCH)
  return()
endif()

set(cwtrace_pch_std <algorithm> <chrono> <cstdint> <cstring> <filesystem> <fstream> <functional>
                    <map> <memory> <optional> <sstream> <string> <string_view> <thread>
                    <unordered_map> <utility> <vector>)
target_precompile_headers(unit_tests PRIVATE <gtest/gtest.h> ${cwtrace_pch_std})
target_precompile_headers(integration_tests PRIVATE <gtest/gtest.h> <nlohmann/json.hpp>
                                                    ${cwtrace_pch_std})
set_source_files_properties(${PROJECT_SOURCE_DIR}/tests/unit/unwind/test_unwind.cpp
                            ${PROJECT_SOURCE_DIR}/tests/unit/unwind/test_unwind_fp.cpp
                            DIRECTORY ${PROJECT_SOURCE_DIR}/tests
                            PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
