# The layer order of docs/ARCHITECTURE.md: no include of a higher layer in src/ or tools/, and
# no symbol of a library object defined by a higher layer's object (scripts/check_layers.sh).
tacl_test(NAME check_layers LABELS unit TIMEOUT 120
  COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/check_layers.sh --root ${PROJECT_SOURCE_DIR}
    --objects ${PROJECT_BINARY_DIR}/src/CMakeFiles/tacl_obj.dir)
tacl_test(NAME check_layers_detects LABELS unit TIMEOUT 60
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_layers_detects.sh)
