# The planner: decisions and reasons on the clusters of tests/data (tests/unit/test_plan.c).
tacl_test(NAME unit_plan LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_plan.c)
# The planner's second pass: store placement, per-host addresses, partial replicas, --predict,
# calibration (tests/unit/test_plan_store.c).
tacl_test(NAME unit_plan_store LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_plan_store.c)
