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

# Two fakes under one soname, as PyTorch's and the system's libnccl.so.2: the system's is found
# through the test program's run path, PyTorch's is loaded by path first.
foreach(spec "torch;22809" "sys;22803")
  list(GET spec 0 n)
  list(GET spec 1 v)
  add_library(gpu_loader_fake_soname_${n} SHARED ${CMAKE_CURRENT_LIST_DIR}/gpu_loader_fake_nccl.c)
  target_compile_definitions(gpu_loader_fake_soname_${n} PRIVATE FAKE_NCCL_VERSION=${v})
  set_target_properties(gpu_loader_fake_soname_${n} PROPERTIES OUTPUT_NAME taclfakenccl
    SOVERSION 2 LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/gpu_fake_${n})
  list(APPEND _gpu_fakes gpu_loader_fake_soname_${n})
  if(TACL_TSAN OR TACL_SANITIZE)
    # Loaded into a new link-map namespace, a sanitizer runtime would be loaded a second time.
    set_property(TARGET gpu_loader_fake_soname_${n} PROPERTY COMPILE_OPTIONS -Wall -Wextra)
    set_property(TARGET gpu_loader_fake_soname_${n} PROPERTY LINK_OPTIONS "")
  endif()
endforeach()

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
  FAKE_NVML="$<TARGET_FILE:gpu_loader_fake_nvml>"
  FAKE_SONAME="libtaclfakenccl.so.2"
  FAKE_SONAME_TORCH="$<TARGET_FILE:gpu_loader_fake_soname_torch>")
set_target_properties(unit_gpu_loader PROPERTIES BUILD_RPATH ${CMAKE_CURRENT_BINARY_DIR}/gpu_fake_sys)

# The parallel layout (vLLM's TP/PP/DP/EP rank arithmetic), checked against an independent
# enumeration of the reshaped/transposed rank array.
tacl_test(NAME unit_gpu_par_layout LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_loader_par_layout.c)
