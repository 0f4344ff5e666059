# Host discovery on sysfs snapshots (tests/data/sysfs) and the live host.
tacl_test(NAME unit_hostinfo LABELS unit TIMEOUT 60 SOURCES ${CMAKE_CURRENT_LIST_DIR}/hostinfo.c)
