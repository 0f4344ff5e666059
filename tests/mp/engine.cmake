# Point-to-point engine, ranks as forked processes (tests/mp/engine_mp.c).
add_executable(test_engine_mp ${CMAKE_CURRENT_LIST_DIR}/engine_mp.c)
target_link_libraries(test_engine_mp PRIVATE tacl_testutil)
foreach(s sizes_shm sizes_cma cma_fallback bad_ifname kill kill_shm kill_chain kill_relay cut
    dial_stalled dial_late hostile crossing stall_idle lazy_shm)
  tacl_test(NAME mp_engine_${s} LABELS mp TIMEOUT 60 COMMAND $<TARGET_FILE:test_engine_mp> ${s})
endforeach()
