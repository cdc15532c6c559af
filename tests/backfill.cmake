# Sources added by one component; included from the CMakeLists.txt beside it.
# Backfill (issue 5): sock_diag dump and process details.
target_sources(unit_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/unit/test_sock_diag.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/test_process_info.cpp
)
target_sources(unit_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/unit/test_netns.cpp)
# Containers: other network, pid and mount namespaces (root, real BPF).
target_sources(integration_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/integration/test_containers.cpp)
# Owners at scale: the BPF walk of the file tables against the /proc pass (root, real BPF).
target_sources(integration_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/integration/test_socket_holders.cpp)
