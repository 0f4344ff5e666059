# bench_scale_sim: tacl's init protocol for thousands of ranks (threads) on many simulated hosts
# against the real store (bench/scale_sim.c; closed forms in scale_model.h). bench/scale.sh
# measures real worlds of 8..128 ranks. The CTest runs a small instance and checks the counts.
add_executable(bench_scale_sim ${CMAKE_CURRENT_LIST_DIR}/scale_sim.c)
target_link_libraries(bench_scale_sim PRIVATE tacl_internal Threads::Threads)
