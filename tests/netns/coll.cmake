# Collectives and routed point-to-point across network-namespace hosts that are not a full
# mesh (tests/netns/coll_shapes.sh).
foreach(shape chain chain2 ring4 star line5 disconnected)
  tacl_test(NAME netns_coll_${shape} LABELS netns TIMEOUT 240
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/coll_shapes.sh ${shape}
    ENV TACL_TEST_COLL=$<TARGET_FILE:mp_coll_n1>)
endforeach()
# v-variant and point-to-point count mismatches across hosts, routed through B (label fault).
tacl_test(NAME netns_coll_counts LABELS netns fault TIMEOUT 120
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/coll_shapes.sh chain counts
  ENV TACL_TEST_COLL_ERRORS=$<TARGET_FILE:mp_coll_errors>)
