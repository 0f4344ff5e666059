add_executable(hostid_print ${CMAKE_CURRENT_LIST_DIR}/hostid_print.c)
target_link_libraries(hostid_print PRIVATE tacl_testutil)
tacl_test(NAME netns_hostid LABELS netns TIMEOUT 60
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/hostid.sh $<TARGET_FILE:hostid_print>)
# The default run id does not depend on how a rank spells the store's address.
tacl_test(NAME netns_runid_multihome LABELS netns TIMEOUT 90
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/runid_multihome.sh $<TARGET_FILE:example_hello>)
