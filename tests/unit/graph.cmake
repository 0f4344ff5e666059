# Topology graph algorithms, routes and schedules (pure computation).
tacl_test(NAME unit_graph LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/graph.c LIBS m)
