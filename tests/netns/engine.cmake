# Point-to-point engine over a real chain of network namespaces (tests/netns/engine_chain.sh).
add_executable(test_engine_netns ${CMAKE_CURRENT_LIST_DIR}/engine_netns.c)
target_link_libraries(test_engine_netns PRIVATE tacl_testutil)
tacl_test(NAME netns_engine_chain LABELS netns TIMEOUT 60
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/engine_chain.sh $<TARGET_FILE:test_engine_netns>)
# Flow control of routed traffic: relay memory bounded per flow, crossing flows complete.
add_executable(test_engine_relay ${CMAKE_CURRENT_LIST_DIR}/engine_relay.c)
target_link_libraries(test_engine_relay PRIVATE tacl_testutil)
tacl_test(NAME netns_engine_relay LABELS netns TIMEOUT 180
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/engine_relay.sh $<TARGET_FILE:test_engine_relay>
  oneway cross unbound)
# A relay over its TACL_RELAY_MAX_BYTES drops, names the flow, and does not stall the sender.
tacl_test(NAME netns_engine_relay_cap LABELS netns fault TIMEOUT 60
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/engine_relay.sh $<TARGET_FILE:test_engine_relay> cap)
