#!/usr/bin/env bash
# deps.sh (test) — scripts/deps.sh offline: apt cannot reach anything and no optional package
# is installed. With the required tools on PATH (cmake from pip, say: not a Debian package) it
# names what is missing and what that turns off, and succeeds; without cmake it fails naming
# it. Runs deps.sh with a PATH of stubs (apt-get and dpkg-query that fail, cc/make/cmake that
# exist) and links to the few real tools it needs.
set -u
DEPS=${TACL_SOURCE_DIR:?}/scripts/deps.sh
DIR=$(mktemp -d "/tmp/tacl-deps-$$-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fail() {
    echo "FAIL: $*" >&2
    cat "$DIR/err" >&2
    exit 1
}
mkdir "$DIR/bin"
for t in bash grep timeout sed id; do
    p=$(type -P "$t") && ln -s "$p" "$DIR/bin/$t"
done
printf '#!/bin/sh\nexit 1\n' >"$DIR/bin/dpkg-query"
printf '#!/bin/sh\necho "Temporary failure resolving deb.debian.org" >&2\nexit 100\n' >"$DIR/bin/apt-get"
for t in cc make cmake; do printf '#!/bin/sh\nexit 0\n' >"$DIR/bin/$t"; done
chmod +x "$DIR"/bin/*

PATH="$DIR/bin" bash "$DEPS" 2>"$DIR/err"
rc=$?
[ $rc = 0 ] || fail "offline with the required tools: exit $rc, expected 0"
grep -q "optional package libfyaml-dev is missing: cluster and model files" "$DIR/err" ||
    fail "does not say what a missing libfyaml turns off"
grep -q "optional package libhwloc-dev is missing" "$DIR/err" || fail "does not name hwloc"
echo "offline, tools present: exit 0"

rm "$DIR/bin/cmake"
PATH="$DIR/bin" bash "$DEPS" 2>"$DIR/err"
rc=$?
[ $rc = 1 ] || fail "offline without cmake: exit $rc, expected 1"
grep -q "required tools missing: cmake" "$DIR/err" || fail "does not name cmake"
echo "offline, cmake missing: exit 1 naming it"
