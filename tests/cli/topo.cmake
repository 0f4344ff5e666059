# `tacl topo`: fake sysfs snapshot, JSON, live host, schedules; and inside a harness namespace.
tacl_test(NAME cli_topo LABELS cli TIMEOUT 60 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/topo.sh)
tacl_test(NAME cli_topo_netns LABELS cli netns TIMEOUT 60
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/topo_netns.sh)
# TACL_TOPO_MEASURE on one host: its rank limit, its log for few and for many ranks.
tacl_test(NAME cli_topo_measure LABELS cli TIMEOUT 300
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/topo_measure_local.sh $<TARGET_FILE:example_hello>)
