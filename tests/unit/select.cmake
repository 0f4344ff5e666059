# The selector's choices on communicator shapes built from graphs (tests/unit/select.c), and
# TACL_ALGO forcing (errors that name the algorithm and collective; each mode sets TACL_ALGO).
tacl_test(NAME unit_select LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/select.c LIBS m
  COMMAND $<TARGET_FILE:unit_select> model)
foreach(mode forced badconf)
  tacl_test(NAME unit_select_${mode} LABELS unit TIMEOUT 60
    COMMAND $<TARGET_FILE:unit_select> ${mode})
endforeach()
