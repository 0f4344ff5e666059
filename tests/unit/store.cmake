# Rendezvous store: operations, malformed input, concurrency (threads), IPv6.
tacl_test(NAME unit_store_basic LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_basic.c)
