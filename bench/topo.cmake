# topo_allreduce: one rank of the shaped-network benchmarks (bench/topo_bench.sh) and of the
# link-cut and measurement tests (tests/netns/coll_cut.sh, topo_measure.sh).
add_executable(topo_allreduce ${CMAKE_CURRENT_LIST_DIR}/topo_allreduce.c)
target_link_libraries(topo_allreduce PRIVATE tacl_internal)
