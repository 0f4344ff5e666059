# Collectives on namespace hosts scheduled from a topology file (tests/netns/topo_shapes.sh).
foreach(shape meshchain kite fullchain)
  tacl_test(NAME netns_topo_${shape} LABELS netns TIMEOUT 240
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/topo_shapes.sh ${shape}
    ENV TACL_TEST_COLL=$<TARGET_FILE:mp_coll_n1>)
endforeach()
