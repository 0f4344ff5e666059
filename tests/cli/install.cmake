tacl_test(NAME cli_install LABELS cli TIMEOUT 120
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install.sh)
# scripts/deps.sh offline: optional packages missing is not an error; a missing tool is.
tacl_test(NAME cli_deps_offline LABELS cli TIMEOUT 60 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/deps.sh)
