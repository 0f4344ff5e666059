# tacl bench on 2 host ranks: p50/p99 per size in the table and in -J, consistent with the mean,
# and still readable by the calibration (tests/cli/bench.sh).
tacl_test(NAME cli_bench_percentiles LABELS cli TIMEOUT 240
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench.sh)
