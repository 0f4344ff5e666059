#!/usr/bin/env bash
# install.sh — `cmake --install` puts the library, header, CLI, pkg-config file and CMake
# package config in a prefix, and a program outside the tree builds against each of them and
# runs (one rank, no launcher).
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
if grep -Eq "^TACL_(SANITIZE|TSAN):BOOL=ON" "$TACL_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    echo "SKIP: a sanitizer build's library needs the sanitizer runtime in every program that loads it"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cmake --install "$TACL_BUILD_DIR" --prefix "$dir/prefix" >"$dir/install.log" 2>&1 || fail "install: $(tail -5 "$dir/install.log")"
p=$dir/prefix
[ -f "$p/include/tacl.h" ] || fail "tacl.h not installed"
ls "$p"/lib*/libtacl.so* >/dev/null 2>&1 || fail "libtacl.so not installed"
ls "$p"/lib*/libtacl.a >/dev/null 2>&1 || fail "libtacl.a not installed"
[ -x "$p/bin/tacl" ] || fail "tacl CLI not installed"
"$p/bin/tacl" version | grep -q "^tacl " || fail "installed CLI does not run"
# pkg-config
pc=$(ls -d "$p"/lib*/pkgconfig | head -1)
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs tacl) || fail "pkg-config cannot find tacl"
cc -o "$dir/hello_pc" "$TACL_SOURCE_DIR/examples/hello.c" $flags -Wl,-rpath,"$(dirname "$(ls "$p"/lib*/libtacl.so | head -1)")" ||
    fail "build with pkg-config flags ($flags) failed"
out=$(env -u TACL_RANK -u TACL_WORLD_SIZE "$dir/hello_pc") || fail "hello (pkg-config) failed: $out"
echo "$out" | grep -q "rank 0 of 1 .*all_reduce ok" || fail "hello said: $out"
# find_package(tacl)
mkdir -p "$dir/consumer"
cat >"$dir/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(tacl REQUIRED)
add_executable(hello_cm hello.c)
target_link_libraries(hello_cm PRIVATE tacl::tacl)
CM
cp "$TACL_SOURCE_DIR/examples/hello.c" "$dir/consumer/"
cmake -S "$dir/consumer" -B "$dir/consumer/build" -DCMAKE_PREFIX_PATH="$p" >"$dir/cm.log" 2>&1 ||
    fail "find_package(tacl): $(tail -5 "$dir/cm.log")"
cmake --build "$dir/consumer/build" >>"$dir/cm.log" 2>&1 || fail "consumer build: $(tail -5 "$dir/cm.log")"
out=$(env -u TACL_RANK -u TACL_WORLD_SIZE "$dir/consumer/build/hello_cm") || fail "hello (find_package) failed: $out"
echo "$out" | grep -q "all_reduce ok" || fail "hello said: $out"
echo "cli_install: ok"
