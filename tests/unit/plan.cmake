# The planner: decisions and reasons on the clusters of tests/data (tests/unit/test_plan.c).
tacl_test(NAME unit_plan LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_plan.c)
