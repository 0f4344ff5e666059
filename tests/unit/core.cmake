tacl_test(NAME unit_core LABELS unit TIMEOUT 30 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_core.c)
# A communicator used after tacl_comm_destroy: TACL_ERR_INVALID, not a crash.
tacl_test(NAME unit_comm_destroyed LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/comm_destroyed.c)
# The CPUs a process may keep busy: quota parser, affinity mask, and a real control group's
# quota where the test may make one (tests/unit/proc_cpus.c).
tacl_test(NAME unit_proc_cpus LABELS unit TIMEOUT 30 SOURCES ${CMAKE_CURRENT_LIST_DIR}/proc_cpus.c)
# A control group's CPU pressure: parser, the system's file, a group of its own where the test
# may make one, and the helper pool reading it (tests/unit/proc_pressure.c).
tacl_test(NAME unit_proc_pressure LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/proc_pressure.c)
