# Point-to-point engine, ranks as threads of one process (tests/unit/engine.c).
add_executable(test_engine ${CMAKE_CURRENT_LIST_DIR}/engine.c)
target_link_libraries(test_engine PRIVATE tacl_testutil)
foreach(s sizes sizes_nconns sizes_shm sizes_shm_disabled order order_shm mismatch timeout route credit_line pingpong cancel cancel_shm cancel_cma eager eager_shm eager_cma sizes_cma ifname self)
  tacl_test(NAME unit_engine_${s} LABELS unit TIMEOUT 60 COMMAND $<TARGET_FILE:test_engine> ${s})
endforeach()
# The engine's handshake proves the job token: other jobs and outsiders are refused.
tacl_test(NAME unit_engine_auth LABELS unit fault TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_auth.c)
# Which pairs create probes and what every rank pair inherits (pairs.c), without sockets.
add_executable(test_engine_pairs ${CMAKE_CURRENT_LIST_DIR}/engine_pairs.c)
target_link_libraries(test_engine_pairs PRIVATE tacl_testutil)
foreach(s plan inherit tree)
  tacl_test(NAME unit_engine_pairs_${s} LABELS unit TIMEOUT 60
    COMMAND $<TARGET_FILE:test_engine_pairs> ${s})
endforeach()
