# The shared-memory group's copy jobs: blocks around the task size, more than a job holds, with
# and without helpers (tests/unit/shm_copy.c).
tacl_test(NAME unit_shm_copy LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm_copy.c)
