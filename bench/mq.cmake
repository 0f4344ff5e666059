# mq: the broadcast message queue on one host (latency, throughput, idle CPU, wake-up), for the
# comparison with vLLM's shm_broadcast MessageQueue in bench/RESULTS.md.
add_executable(mq_bench ${CMAKE_CURRENT_LIST_DIR}/mq.c ${PROJECT_SOURCE_DIR}/tests/common/mp_world.c)
target_include_directories(mq_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/common)
target_link_libraries(mq_bench PRIVATE tacl_internal)
