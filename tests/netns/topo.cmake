# TACL_TOPO=file on fake hosts (tests/netns/topo_file.c): restriction to a chain, multi-tree
# packing from declared bandwidths, bad files.
foreach(mode chain kite badfile nohost)
  if(mode STREQUAL chain)
    tacl_test(NAME topo_file_${mode} LABELS mp TIMEOUT 120
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/topo_file.c COMMAND $<TARGET_FILE:topo_file_chain> ${mode})
  else()
    tacl_test(NAME topo_file_${mode} LABELS mp TIMEOUT 120
      COMMAND $<TARGET_FILE:topo_file_chain> ${mode})
  endif()
endforeach()
