# Host collectives on 1..8 ranks (one host: shared memory), and over fake hosts (tcp between
# them, hierarchical all_reduce).
foreach(n 1 2 3 4 5 6 7 8)
  if(n EQUAL 1)
    tacl_test(NAME mp_coll_n${n} LABELS mp TIMEOUT 300
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coll.c COMMAND $<TARGET_FILE:mp_coll_n1> ${n})
  else()
    tacl_test(NAME mp_coll_n${n} LABELS mp TIMEOUT 300 COMMAND $<TARGET_FILE:mp_coll_n1> ${n})
  endif()
endforeach()
tacl_test(NAME mp_coll_hosts2 LABELS mp TIMEOUT 300 COMMAND $<TARGET_FILE:mp_coll_n1> 4
  ENV TACL_TEST_HOSTS=2)
tacl_test(NAME mp_coll_hosts3 LABELS mp TIMEOUT 300 COMMAND $<TARGET_FILE:mp_coll_n1> 5
  ENV TACL_TEST_HOSTS=3)
tacl_test(NAME mp_coll_tcp LABELS mp TIMEOUT 300 COMMAND $<TARGET_FILE:mp_coll_n1> 3
  ENV TACL_TEST_HOSTS=3)
tacl_test(NAME mp_coll_errors LABELS mp TIMEOUT 120 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coll_errors.c)
# v-variant and point-to-point counts that disagree between ranks (shm, tcp on one host, fake
# hosts): TACL_ERR_MISMATCH on both ranks of every such pair, never stale data.
tacl_test(NAME mp_coll_count_mismatch LABELS mp fault TIMEOUT 180
  COMMAND $<TARGET_FILE:mp_coll_errors> counts)
# TACL_ALGO forcing an algorithm that cannot run on the communicator: TACL_ERR_INVALID naming
# it on every rank, the communicator still usable.
tacl_test(NAME mp_coll_forced_invalid LABELS mp TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_coll_errors> forced)
tacl_test(NAME mp_comm_split LABELS mp TIMEOUT 120 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_comm_split.c)
# Every engine algorithm of all_reduce forced on fake hosts (tcp), non-power-of-two sizes.
foreach(algo ring rd rhd tree)
  tacl_test(NAME mp_coll_algo_${algo} LABELS mp TIMEOUT 300 COMMAND $<TARGET_FILE:mp_coll_n1> 5
    ENV TACL_TEST_HOSTS=5 TACL_ALGO=allreduce:${algo})
endforeach()
# Calls the ranks disagree on (root, collective, count, dtype, op; one rank rejecting its own
# call): every rank fails within seconds naming the rank and field, the next call works. Over
# tcp with every engine algorithm forced, hierarchical (two fake hosts of two ranks), and on
# the shared-memory group (alone, and with the ring forced where it applies).
tacl_test(NAME mp_coll_agree_shm LABELS mp fault TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_coll_errors> agree 3)
tacl_test(NAME mp_coll_agree_shm_ring LABELS mp fault TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_coll_errors> agree 3 ENV TACL_ALGO=ring)
tacl_test(NAME mp_coll_agree_hier LABELS mp fault TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_coll_errors> agree 4 hA,hA,hB,hB)
tacl_test(NAME mp_coll_agree_tcp_n2 LABELS mp fault TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_coll_errors> agree 2 ENV TACL_SHM_DISABLE=1)
# Above 8 ranks rooted calls confirm by dissemination rounds.
tacl_test(NAME mp_coll_agree_tcp_n9 LABELS mp fault TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_coll_errors> agree 9 ENV TACL_SHM_DISABLE=1)
foreach(algo auto ring rd rhd tree)
  tacl_test(NAME mp_coll_agree_tcp_${algo} LABELS mp fault TIMEOUT 120
    COMMAND $<TARGET_FILE:mp_coll_errors> agree 3
    ENV TACL_SHM_DISABLE=1 TACL_ALGO=${algo})
endforeach()
# Every collective (in-place forms included) with ring, then tree, forced wherever it applies,
# and the engine path on one host with shared memory switched off.
foreach(algo ring tree)
  tacl_test(NAME mp_coll_algo_all_${algo} LABELS mp TIMEOUT 300 COMMAND $<TARGET_FILE:mp_coll_n1> 5
    ENV TACL_TEST_HOSTS=5 TACL_ALGO=${algo})
endforeach()
tacl_test(NAME mp_coll_shm_disable LABELS mp TIMEOUT 300 COMMAND $<TARGET_FILE:mp_coll_n1> 3
  ENV TACL_SHM_DISABLE=1)
# tacl_mem_alloc's memory and the all_reduce that works in it directly: values on 3 and 8 ranks
# against references and the copying path's bits, mismatched and refused calls; a rank killed;
# no shared-memory group.
tacl_test(NAME mp_mem_values3 LABELS mp TIMEOUT 240 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_mem.c
  COMMAND $<TARGET_FILE:mp_mem_values3> values 3)
tacl_test(NAME mp_mem_values8 LABELS mp TIMEOUT 240 COMMAND $<TARGET_FILE:mp_mem_values3> values 8)
tacl_test(NAME mp_mem_kill LABELS mp fault TIMEOUT 120 COMMAND $<TARGET_FILE:mp_mem_values3> kill)
foreach(c all_gather broadcast)
  tacl_test(NAME mp_mem_kill_${c} LABELS mp fault TIMEOUT 120
    COMMAND $<TARGET_FILE:mp_mem_values3> kill ${c})
endforeach()
tacl_test(NAME mp_mem_unshared LABELS mp TIMEOUT 120
  COMMAND $<TARGET_FILE:mp_mem_values3> unshared)
tacl_test(NAME mp_mem_hier LABELS mp TIMEOUT 120 COMMAND $<TARGET_FILE:mp_mem_values3> hier)
tacl_test(NAME mp_mem_hosts LABELS mp TIMEOUT 120 COMMAND $<TARGET_FILE:mp_mem_values3> hosts)
