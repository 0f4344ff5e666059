# engine_bench: point-to-point latency and bandwidth of the engine, shm and tcp (loopback).
add_executable(engine_bench ${CMAKE_CURRENT_LIST_DIR}/engine_bench.c
  ${PROJECT_SOURCE_DIR}/tests/common/xchg_fork.c)
target_include_directories(engine_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/common)
target_link_libraries(engine_bench PRIVATE tacl_internal)
