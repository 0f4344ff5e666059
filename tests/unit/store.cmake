# Rendezvous store: operations, malformed input, concurrency (threads), IPv6.
tacl_test(NAME unit_store_basic LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_basic.c)
tacl_test(NAME unit_store_malformed LABELS unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_malformed.c)
tacl_test(NAME unit_store_threads LABELS unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_threads.c)
tacl_test(NAME unit_store_ipv6 LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_ipv6.c)
