# tacl doctor: the verdict and outputs on hand-made reports (unit), and `tacl doctor --local`
# on this host (cli). The multi-host shapes are in tests/netns/doctor.cmake.
tacl_test(NAME unit_doctor_verdict LABELS unit TIMEOUT 30
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/doctor_verdict.c)
tacl_test(NAME cli_doctor_local LABELS cli TIMEOUT 90
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/doctor.sh)
