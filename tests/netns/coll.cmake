# Collectives and routed point-to-point across network-namespace hosts that are not a full
# mesh (tests/netns/coll_shapes.sh).
foreach(shape chain chain2 ring4 star line5 disconnected)
  tacl_test(NAME netns_coll_${shape} LABELS netns TIMEOUT 240
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/coll_shapes.sh ${shape}
    ENV TACL_TEST_COLL=$<TARGET_FILE:mp_coll_n1>)
endforeach()
