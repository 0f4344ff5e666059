# GPU benchmarks: tacl's device collectives are measured with `tacl bench --gpu` (nccl-tests'
# format); bench/gpu_torch_allreduce.py is the torch.distributed peer and bench/gpu_nccl_raw.c
# drives the same NCCL directly from C (one process per GPU) as the raw peer.
add_executable(gpu_nccl_raw ${CMAKE_CURRENT_LIST_DIR}/gpu_nccl_raw.c)
target_link_libraries(gpu_nccl_raw PRIVATE tacl_internal)
