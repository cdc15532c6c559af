# Python frames (issue 8): unit tests and the crawler fixtures for the integration tests.
# Included from tests/CMakeLists.txt.
target_sources(unit_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/unit/test_python.cpp)
target_sources(integration_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/integration/test_python.cpp)
target_compile_definitions(integration_tests PRIVATE
  FX_PYTHON_CRAWLER="${CMAKE_CURRENT_LIST_DIR}/fixtures/leaky_crawler.py"
  FX_PYTHON_SERVER="${CMAKE_CURRENT_LIST_DIR}/fixtures/keepalive_server.py")
