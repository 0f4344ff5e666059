# The GPU loaders' decisions, tested on machines without GPUs: fake NCCL libraries (one per
# version, one missing required symbols), a fake CUDA runtime and a fake NVML, built here.
set(_gpu_fakes "")
foreach(spec "a;22803;" "b;22809;" "c;22901;" "r;22005;" "p;22803;FAKE_NCCL_PARTIAL")
  list(GET spec 0 n)
  list(GET spec 1 v)
  list(GET spec 2 extra)
  add_library(gpu_loader_fake_nccl_${n} SHARED ${CMAKE_CURRENT_LIST_DIR}/gpu_loader_fake_nccl.c)
  target_compile_definitions(gpu_loader_fake_nccl_${n} PRIVATE FAKE_NCCL_VERSION=${v} ${extra})
  set_target_properties(gpu_loader_fake_nccl_${n} PROPERTIES NO_SONAME ON)
  list(APPEND _gpu_fakes gpu_loader_fake_nccl_${n})
endforeach()
add_library(gpu_loader_fake_cudart SHARED ${CMAKE_CURRENT_LIST_DIR}/gpu_loader_fake_cudart.c)
add_library(gpu_loader_fake_nvml SHARED ${CMAKE_CURRENT_LIST_DIR}/gpu_loader_fake_nvml.c)
set_target_properties(gpu_loader_fake_cudart gpu_loader_fake_nvml PROPERTIES NO_SONAME ON)

tacl_test(NAME unit_gpu_loader LABELS unit TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_loader.c)
add_dependencies(unit_gpu_loader ${_gpu_fakes} gpu_loader_fake_cudart gpu_loader_fake_nvml)
target_compile_definitions(unit_gpu_loader PRIVATE
  FAKE_NCCL_A="$<TARGET_FILE:gpu_loader_fake_nccl_a>"
  FAKE_NCCL_B="$<TARGET_FILE:gpu_loader_fake_nccl_b>"
  FAKE_NCCL_C="$<TARGET_FILE:gpu_loader_fake_nccl_c>"
  FAKE_NCCL_R="$<TARGET_FILE:gpu_loader_fake_nccl_r>"
  FAKE_NCCL_P="$<TARGET_FILE:gpu_loader_fake_nccl_p>"
  FAKE_CUDART="$<TARGET_FILE:gpu_loader_fake_cudart>"
  FAKE_NVML="$<TARGET_FILE:gpu_loader_fake_nvml>")

# The parallel layout (vLLM's TP/PP/DP/EP rank arithmetic), checked against an independent
# enumeration of the reshaped/transposed rank array.
tacl_test(NAME unit_gpu_par_layout LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_loader_par_layout.c)
