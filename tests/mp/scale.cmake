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
# The init protocol for 256 ranks on 32 simulated hosts (bench/scale_sim.c: threads against the
# real store), its store requests, connections and probe connections per rank checked against
# the closed forms of bench/scale_model.h; once with cards fetched by peers, once all-gathered.
if(TACL_BUILD_BENCH)
  tacl_test(NAME mp_scale_sim LABELS mp scale TIMEOUT 120
    COMMAND $<TARGET_FILE:bench_scale_sim> --ranks 256 --hosts 32 --check)
  tacl_test(NAME mp_scale_sim_cards_all LABELS mp scale TIMEOUT 120
    COMMAND $<TARGET_FILE:bench_scale_sim> --ranks 64 --hosts 8 --cards all --check)
endif()
