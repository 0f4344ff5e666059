tacl_test(NAME unit_reduce LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/reduce.c LIBS m)
