tacl_test(NAME unit_bootstrap LABELS unit TIMEOUT 30 SOURCES ${CMAKE_CURRENT_LIST_DIR}/bootstrap_test.c)
tacl_test(NAME unit_bootstrap_hostid LABELS unit TIMEOUT 30 SOURCES ${CMAKE_CURRENT_LIST_DIR}/bootstrap_hostid.c)
