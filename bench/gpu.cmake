# GPU benchmark: tacl's device all-reduce in nccl-tests' format. Its PyTorch peer is
# bench/gpu_torch_allreduce.py.
add_executable(gpu_allreduce ${CMAKE_CURRENT_LIST_DIR}/gpu_allreduce.c)
target_link_libraries(gpu_allreduce PRIVATE tacl_internal)
