# TACL_TOPO_MEASURE on a shaped chain (tests/netns/topo_measure.sh); the rank program is
# netns_topo_rank (tests/netns/coll_cut.cmake).
tacl_test(NAME netns_topo_measure LABELS netns TIMEOUT 120
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/topo_measure.sh
  ENV TACL_TOPO_RANK=$<TARGET_FILE:netns_topo_rank>)
