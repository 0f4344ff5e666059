# GPU tests: labelled gpu; each exits 77 (skipped) on machines without a GPU.
tacl_test(NAME gpu_nccl_single LABELS gpu TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_nccl_single.c)

tacl_test(NAME gpu_dev_comm_mp LABELS gpu TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_dev_comm_mp.c)
add_test(NAME gpu_dev_comm_deadpeer COMMAND gpu_dev_comm_mp deadpeer)
set_tests_properties(gpu_dev_comm_deadpeer PROPERTIES TIMEOUT 120 LABELS gpu SKIP_RETURN_CODE 77
  ENVIRONMENT "TACL_CLI=$<TARGET_FILE:tacl_cli>;TACL_TIMEOUT=60")
