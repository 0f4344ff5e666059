# Self-tests of the network-namespace harness (tests/netns/lib.sh) and its TCP helper. Other
# netns tests may pass TACL_NETNS_TCP_ENV to tacl_test(ENV ...) to get the helper too.
add_executable(tacl_netns_tcp ${CMAKE_CURRENT_LIST_DIR}/harness_tcp.c)
set(TACL_NETNS_TCP_ENV "TACL_NETNS_TCP=$<TARGET_FILE:tacl_netns_tcp>")
foreach(t chain shape cleanup)
  tacl_test(NAME netns_harness_${t} LABELS netns TIMEOUT 60
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/harness_${t}.sh ENV ${TACL_NETNS_TCP_ENV})
endforeach()
