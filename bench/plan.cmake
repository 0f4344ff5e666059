# plan_bench: the planner's cost-model calibration and planning time (bench/plan_bench.c).
add_executable(plan_bench ${CMAKE_CURRENT_LIST_DIR}/plan_bench.c)
target_link_libraries(plan_bench PRIVATE tacl_internal)
