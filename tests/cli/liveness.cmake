# Liveness under load: 64 ranks on this host with every core busy, no false cuts, few warnings.
# SERIAL: its busy loops would slow the tests beside it.
tacl_test(NAME cli_liveness_load SERIAL LABELS cli scale TIMEOUT 240
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/liveness_load.sh $<TARGET_FILE:example_hello> 64 2)
