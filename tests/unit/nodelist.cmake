tacl_test(NAME unit_nodelist LABELS unit TIMEOUT 30 SOURCES ${CMAKE_CURRENT_LIST_DIR}/nodelist_test.c)
