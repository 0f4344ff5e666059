# Fault tests of the job's life cycle: stalled peers and stores at destroy, jobs killed during
# init (no /dev/shm segment outlives them).
tacl_test(NAME mp_fault_stall_shm LABELS mp fault TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fault_stall.c COMMAND $<TARGET_FILE:mp_fault_stall_shm> shm)
tacl_test(NAME mp_fault_stall_tcp LABELS mp fault TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_fault_stall_shm> tcp)
tacl_test(NAME mp_fault_stall_store LABELS mp fault TIMEOUT 90
  COMMAND $<TARGET_FILE:mp_fault_stall_shm> store)
