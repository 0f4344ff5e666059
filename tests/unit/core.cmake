tacl_test(NAME unit_core LABELS unit TIMEOUT 30 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_core.c)
# A communicator used after tacl_comm_destroy: TACL_ERR_INVALID, not a crash.
tacl_test(NAME unit_comm_destroyed LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/comm_destroyed.c)
