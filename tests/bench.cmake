# Sources added by one component; included from the CMakeLists.txt beside it.

# Load generator for scripts/bench (loopback connection churn, CLOSE_WAIT holders). Built
# optimized whatever the build type: it measures the kernel, it must not be the bottleneck.
find_package(Threads REQUIRED)
add_executable(bench_churn ${CMAKE_CURRENT_LIST_DIR}/bench/churn.c)
target_compile_options(bench_churn PRIVATE -O2)
target_link_libraries(bench_churn PRIVATE Threads::Threads)
set_target_properties(bench_churn PROPERTIES OUTPUT_NAME churn RUNTIME_OUTPUT_DIRECTORY
                                             ${CMAKE_BINARY_DIR}/tests/bench)

# The benchmark's floor: an empty program on cwtrace's raw tracepoint, attached until SIGINT.
add_executable(bench_floor ${CMAKE_CURRENT_LIST_DIR}/bench/floor.c)
target_link_libraries(bench_floor PRIVATE bench_floor_skel)
set_target_properties(bench_floor PROPERTIES OUTPUT_NAME floor RUNTIME_OUTPUT_DIRECTORY
                                             ${CMAKE_BINARY_DIR}/tests/bench)
