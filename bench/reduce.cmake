# reduce_kernels: throughput of the reduction kernels per family (TACL_REDUCE_ISA).
add_executable(reduce_kernels ${CMAKE_CURRENT_LIST_DIR}/reduce_kernels.c)
target_link_libraries(reduce_kernels PRIVATE tacl_internal)
