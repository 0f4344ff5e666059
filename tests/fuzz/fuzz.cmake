# libFuzzer targets, run for a few seconds each (bench/fuzz_long.sh runs them for millions of
# executions): the store (frames and request sequences against a live server), cluster files,
# Slurm node lists and the engine's frame headers. Built by fuzz.sh with clang, skipped (77)
# where clang cannot build fuzzers (or a target's library is missing).
foreach(t store_frames store_requests cluster nodelist engine_frame)
  tacl_test(NAME fuzz_${t} LABELS fuzz TIMEOUT 180
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/fuzz.sh ${t} 5)
endforeach()
