# libFuzzer targets of the store (frames and request sequences against a live server), run for a
# few seconds each; built by fuzz.sh with clang, skipped (77) where clang cannot build fuzzers.
foreach(t store_frames store_requests)
  tacl_test(NAME fuzz_${t} LABELS fuzz TIMEOUT 180
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/fuzz.sh ${t} 5)
endforeach()
