tacl_test(NAME cli_install LABELS cli TIMEOUT 120
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install.sh)
