# Rendezvous store: operations, malformed input, concurrency (threads), IPv6.
tacl_test(NAME unit_store_basic LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_basic.c)
tacl_test(NAME unit_store_malformed LABELS unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_malformed.c)
tacl_test(NAME unit_store_threads LABELS unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_threads.c)
tacl_test(NAME unit_store_ipv6 LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_ipv6.c)
# The job token: SHA-256/HMAC vectors, token sources, the store's challenge-response.
tacl_test(NAME unit_auth LABELS unit fault TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/auth.c)
# The store under hostile peers: pipelined chains, idle and stalled connections, memory, fds,
# and a server stopped while its clients finish their requests.
add_executable(store_hostile ${CMAKE_CURRENT_LIST_DIR}/store_hostile.c)
target_link_libraries(store_hostile PRIVATE tacl_testutil)
foreach(m chain idle memory fds stopped)
  tacl_test(NAME unit_store_hostile_${m} LABELS unit fault TIMEOUT 120
    COMMAND $<TARGET_FILE:store_hostile> ${m})
endforeach()
