# The shared-memory group with forked ranks: every collective on 1..8 ranks (8 oversubscribe a
# small machine, which the waits must tolerate), one run with tiny slots so that every
# operation streams through many chunks, runs with helper threads (the large phases' copies and
# reductions cut into tasks), and the error paths.
tacl_test(NAME mp_shm_group_errors LABELS mp TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm_group.c
  COMMAND $<TARGET_FILE:mp_shm_group_errors> errors)
foreach(n 1 2 3 4 8)
  tacl_test(NAME mp_shm_group_ops_${n} LABELS mp TIMEOUT 120
    COMMAND $<TARGET_FILE:mp_shm_group_errors> ops ${n})
endforeach()
tacl_test(NAME mp_shm_group_ops_chunked LABELS mp TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_shm_group_errors> ops 3
  ENV TACL_SHM_SLOT_BYTES=4096 TACL_SHM_ONESHOT_BYTES=256)
tacl_test(NAME mp_shm_group_ops_threads LABELS mp TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_shm_group_errors> ops 2
  ENV TACL_SHM_THREADS=3 TACL_SHM_SLOT_BYTES=524288)
tacl_test(NAME mp_shm_group_ops_threads3 LABELS mp TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_shm_group_errors> ops 3
  ENV TACL_SHM_THREADS=2 TACL_SHM_SLOT_BYTES=262144)
