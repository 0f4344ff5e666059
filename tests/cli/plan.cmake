# `tacl plan` through the built binary (tests/cli/plan_cli.sh).
tacl_test(NAME cli_plan LABELS cli TIMEOUT 60 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/plan_cli.sh)
