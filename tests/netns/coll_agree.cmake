# Calls the ranks disagree on, one rank per host (tests/netns/coll_agree.sh).
foreach(shape mesh chain)
  tacl_test(NAME netns_coll_agree_${shape} LABELS netns fault TIMEOUT 120
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/coll_agree.sh ${shape}
    ENV TACL_TEST_COLL_ERRORS=$<TARGET_FILE:mp_coll_errors>)
endforeach()
