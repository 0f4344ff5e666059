# Rendezvous store against client processes, and the store collectives with ranks as processes.
tacl_test(NAME mp_store_adds LABELS mp TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_procs.c COMMAND $<TARGET_FILE:mp_store_adds> adds)
tacl_test(NAME mp_store_kill LABELS mp TIMEOUT 60 COMMAND $<TARGET_FILE:mp_store_adds> kill)
tacl_test(NAME mp_store_coll_ag64 LABELS mp TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_coll.c COMMAND $<TARGET_FILE:mp_store_coll_ag64> ag64)
foreach(s mismatch timeout share root rootbig roottimeout doctor)
  tacl_test(NAME mp_store_coll_${s} LABELS mp TIMEOUT 60
    COMMAND $<TARGET_FILE:mp_store_coll_ag64> ${s})
endforeach()
tacl_test(NAME cli_store LABELS cli TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_cli.c)
