# Broadcast message queue over the chain A-B-C of network namespaces, the reader on C behind
# the relay B (tests/netns/mq_chain.sh): one rank per host, and two (host leaders passing
# messages on through their hosts' rings).
foreach(per 1 2)
  tacl_test(NAME netns_mq_chain${per} LABELS netns TIMEOUT 180
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/mq_chain.sh ${per}
    ENV TACL_TEST_MQ=$<TARGET_FILE:mp_mq_basic1>)
endforeach()
