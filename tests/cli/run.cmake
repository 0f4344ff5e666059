# tacl run: one CTest entry per behaviour, all driven by run.sh with the run_rank program.
add_executable(run_rank ${CMAKE_CURRENT_LIST_DIR}/run_rank.c)
target_link_libraries(run_rank PRIVATE tacl_testutil)
foreach(c env hello token exit kill9 signal orphans grace tag usage)
  tacl_test(NAME cli_run_${c} LABELS cli TIMEOUT 60
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh ${c} $<TARGET_FILE:run_rank>)
endforeach()
# Jobs stopped during init leave no /dev/shm segment (a private /dev/shm; needs root).
tacl_test(NAME cli_run_kill_shm LABELS cli fault TIMEOUT 180
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_kill_shm.sh $<TARGET_FILE:example_hello> 32)
# Bad settings and arguments refused at once; waits in bootstrap say what they wait for.
foreach(c settings cli progress)
  tacl_test(NAME cli_bounds_${c} LABELS cli TIMEOUT 60
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bounds.sh ${c} $<TARGET_FILE:example_hello>)
endforeach()
