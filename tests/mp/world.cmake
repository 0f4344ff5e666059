# World join with ranks as processes; one CTest entry per scenario of world_join.c.
tacl_test(NAME mp_world_agree LABELS mp TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/world_join.c COMMAND $<TARGET_FILE:mp_world_agree> agree)
foreach(s runid size dup existing unreachable leave leavewait busy)
  tacl_test(NAME mp_world_${s} LABELS mp TIMEOUT 60 COMMAND $<TARGET_FILE:mp_world_agree> ${s})
endforeach()
