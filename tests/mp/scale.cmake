# Worlds of 64 and 128 ranks on this machine through `tacl run` (scale.sh): every rank's
# all_reduce value, a generous time bound, no cut link, fewer warning lines than ranks. Run
# alone (SERIAL): 128 ranks take both cores. Label `scale`; bench/scale.sh measures the same
# worlds for bench/RESULTS.md.
add_executable(scale_rank ${CMAKE_CURRENT_LIST_DIR}/scale_rank.c)
target_link_libraries(scale_rank PRIVATE tacl)
tacl_test(NAME mp_scale_64 LABELS mp scale TIMEOUT 200 SERIAL
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/scale.sh 64 90 $<TARGET_FILE:scale_rank>)
tacl_test(NAME mp_scale_128 LABELS mp scale TIMEOUT 300 SERIAL
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/scale.sh 128 180 $<TARGET_FILE:scale_rank>)
