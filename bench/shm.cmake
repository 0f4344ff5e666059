# shm_allreduce: the shared-memory group's all_reduce, with Open MPI's MPI_Allreduce as the
# peer when Open MPI is found (bench/RESULTS.md has the figures and the command;
# bench/host_steady.sh runs the steadiness comparison: five runs, with and without a CPU hog).
add_executable(shm_allreduce ${CMAKE_CURRENT_LIST_DIR}/shm_allreduce.c
  ${CMAKE_CURRENT_LIST_DIR}/bench_hog.c ${PROJECT_SOURCE_DIR}/tests/common/mp_fork.c)
target_include_directories(shm_allreduce PRIVATE ${PROJECT_SOURCE_DIR}/tests/common
  ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(shm_allreduce PRIVATE tacl_internal)
find_package(MPI COMPONENTS C QUIET)
if(MPI_C_FOUND)
  add_executable(mpi_allreduce ${CMAKE_CURRENT_LIST_DIR}/mpi_allreduce.c)
  target_include_directories(mpi_allreduce PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(mpi_allreduce PRIVATE MPI::MPI_C)
  message(STATUS "tacl: Open MPI found: bench/mpi_allreduce is built as the shm peer")
else()
  message(STATUS "tacl: MPI not found (Debian: libopenmpi-dev): bench/mpi_allreduce not built")
endif()
# copy_floor: the same copies and reduction with threads of one process and spin barriers, the
# floor of a copying all_reduce on the machine (bench/RESULTS.md compares the two).
add_executable(copy_floor ${CMAKE_CURRENT_LIST_DIR}/copy_floor.c)
target_link_libraries(copy_floor PRIVATE tacl_internal Threads::Threads)
