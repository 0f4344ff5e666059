# all_reduce on a star, a 5-host line and a chain of unequal links within a bound of the same
# all_reduce over their bottleneck link between two hosts, measured in one run
# (tests/netns/coll_bound.sh, bench/topo_bound.sh). SERIAL: it times shaped links, and other
# tests' load on the 2 CPUs would be measured with them.
tacl_test(NAME netns_coll_bound LABELS netns TIMEOUT 300 SERIAL
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/coll_bound.sh
  ENV TACL_TOPO_RANK=$<TARGET_FILE:netns_topo_rank>)
