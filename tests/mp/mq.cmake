# Broadcast message queue (tests/mp/mq.c): 1, 3 and 7 readers on one host, fake hosts (leaders
# passing messages on through their hosts' rings), creation errors, killed reader and writer,
# a stopped reader named by the writer's timeout, the CPU of idle readers.
tacl_test(NAME mp_mq_basic1 LABELS mp TIMEOUT 120 SOURCES ${CMAKE_CURRENT_LIST_DIR}/mq.c
  COMMAND $<TARGET_FILE:mp_mq_basic1> basic 1)
foreach(r 3 7)
  tacl_test(NAME mp_mq_basic${r} LABELS mp TIMEOUT 180 COMMAND $<TARGET_FILE:mp_mq_basic1> basic ${r})
endforeach()
foreach(m hosts errors idle)
  tacl_test(NAME mp_mq_${m} LABELS mp TIMEOUT 120 COMMAND $<TARGET_FILE:mp_mq_basic1> ${m})
endforeach()
foreach(m kill_reader kill_writer stall)
  tacl_test(NAME mp_mq_${m} LABELS mp fault TIMEOUT 120
    COMMAND $<TARGET_FILE:mp_mq_basic1> ${m})
endforeach()
# No spinning: every wait sleeps on the futex, so every message goes through the wake-up path.
tacl_test(NAME mp_mq_basic3_nospin LABELS mp TIMEOUT 180
  COMMAND $<TARGET_FILE:mp_mq_basic1> basic 3 ENV TACL_MQ_SPIN_US=0)
# The example, linked against the shared library as a user's program is, under tacl run.
tacl_test(NAME mp_mq_example LABELS mp TIMEOUT 60
  COMMAND $<TARGET_FILE:tacl_cli> run -n 4 -- $<TARGET_FILE:example_mq_broadcast>)
