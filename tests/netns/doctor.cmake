# tacl doctor across network-namespace hosts (tests/netns/doctor.sh): the A-B-C chain (verdict,
# JSON, Graphviz, time bound) a disconnected graph (still reported), and the store error of a rank that cannot reach it.
foreach(shape chain disconnected store)
  tacl_test(NAME netns_doctor_${shape} LABELS netns TIMEOUT 120
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/doctor.sh ${shape})
endforeach()
