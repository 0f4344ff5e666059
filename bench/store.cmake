# bench_store: rendezvous store throughput and world-join time (see bench/store.c).
add_executable(bench_store ${CMAKE_CURRENT_LIST_DIR}/store.c)
target_link_libraries(bench_store PRIVATE tacl_internal)
