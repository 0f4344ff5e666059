# A link cut during an all_reduce loop (tests/netns/coll_cut.sh): errors naming the link on
# every rank within seconds, or completion over another path; never a hang.
add_executable(netns_topo_rank ${PROJECT_SOURCE_DIR}/bench/topo_allreduce.c)
target_link_libraries(netns_topo_rank PRIVATE tacl_testutil)
foreach(shape chain ring4)
  tacl_test(NAME netns_coll_cut_${shape} LABELS netns TIMEOUT 120
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/coll_cut.sh ${shape}
    ENV TACL_TOPO_RANK=$<TARGET_FILE:netns_topo_rank>)
endforeach()
