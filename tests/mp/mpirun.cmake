add_executable(mpirun_check ${CMAKE_CURRENT_LIST_DIR}/mpirun_check.c)
target_link_libraries(mpirun_check PRIVATE tacl_testutil)
tacl_test(NAME mp_mpirun LABELS mp TIMEOUT 90
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/mpirun.sh $<TARGET_FILE:mpirun_check>)
