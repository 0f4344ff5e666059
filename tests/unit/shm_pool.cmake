# The shm group's helper threads: every task once, helpers that take work, and a helper stuck in
# a task that holds up nothing else (tests/unit/shm_pool.c).
tacl_test(NAME unit_shm_pool LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm_pool.c)
