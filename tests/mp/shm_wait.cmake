# The shm group's waits with both ranks confined to one CPU after the group was made with more:
# they yield to each other instead of spinning (tests/mp/shm_wait.c).
tacl_test(NAME mp_shm_wait_shared_cpu LABELS mp TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm_wait.c)
