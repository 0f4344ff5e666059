tacl_test(NAME unit_core LABELS unit TIMEOUT 30 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_core.c)
