# GPU tests: labelled gpu; each exits 77 (skipped) on machines without a GPU. The multi-process
# ones need the host communicator (tacl_init, tacl_broadcast ...); where this tree does not have
# it yet they are declared as skipped with the reason.
tacl_test(NAME gpu_nccl_single LABELS gpu TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_nccl_single.c)

set(_tacl_have_host_comm 0)
file(GLOB_RECURSE _tacl_srcs ${PROJECT_SOURCE_DIR}/src/*.c)
foreach(f ${_tacl_srcs})
  file(STRINGS ${f} _hit REGEX "tacl_status_t tacl_init\\(tacl_comm_t")
  if(_hit)
    set(_tacl_have_host_comm 1)
  endif()
endforeach()
if(_tacl_have_host_comm)
  tacl_test(NAME gpu_dev_comm_mp LABELS gpu TIMEOUT 180
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_dev_comm_mp.c)
  add_test(NAME gpu_dev_comm_deadpeer COMMAND gpu_dev_comm_mp deadpeer)
  set_tests_properties(gpu_dev_comm_deadpeer PROPERTIES TIMEOUT 120 LABELS gpu SKIP_RETURN_CODE 77
    ENVIRONMENT "TACL_CLI=$<TARGET_FILE:tacl_cli>;TACL_TIMEOUT=60")
else()
  foreach(t gpu_dev_comm_mp gpu_dev_comm_deadpeer)
    tacl_test(NAME ${t} LABELS gpu TIMEOUT 10
      COMMAND sh -c "echo 'SKIP: the host communicator (tacl_init) is not in this tree yet' && exit 77")
  endforeach()
  # Compiled (not linked) so that it stays in step with the headers until it can run.
  add_library(gpu_dev_comm_mp_compile_only OBJECT ${CMAKE_CURRENT_LIST_DIR}/gpu_dev_comm_mp.c)
  target_link_libraries(gpu_dev_comm_mp_compile_only PRIVATE tacl_testutil)
endif()
