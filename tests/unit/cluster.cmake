# The cluster description: reader, writer, lookups, routes, presets (tests/unit/test_cluster.c).
tacl_test(NAME unit_cluster LABELS unit TIMEOUT 30 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cluster.c)
