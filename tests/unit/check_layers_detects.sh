#!/usr/bin/env bash
# check_layers_detects.sh — scripts/check_layers.sh on a small tree of its own: a clean tree
# passes; an include that goes up (core -> coll) fails naming file:line, the include and both
# layers; an include by name of a core header and one of a generated file pass; a folder's row
# covers its subfolders (src/transport/engine/x.c is the transports layer); with --objects, a
# core object calling a function that a collectives object defines fails naming both.
set -u
script="$TACL_SOURCE_DIR/scripts/check_layers.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$t/docs" "$t/src/core" "$t/src/transport/engine" "$t/src/coll" "$t/include" "$t/tools/tacl"
cat >"$t/docs/ARCHITECTURE.md" <<'DOC'
Layers.

| layer | folder | owns |
|---|---|---|
| core | src/core | basics |
| transports | src/transport | links |
| collectives | src/coll | algorithms |
| tools | tools/tacl | the CLI |

Text after the table.
DOC
echo '/* err.h */' >"$t/src/core/err.h"
echo '/* tacl.h */' >"$t/include/tacl.h"
printf '#include "err.h"\n#include "tacl.h"\n' >"$t/src/core/log.c"
printf '#include "err.h"\n' >"$t/src/transport/engine/progress.c"
printf '#include "transport/engine/progress.h"\n#include "err.h"\n' >"$t/src/coll/coll.c"
echo '/* progress.h */' >"$t/src/transport/engine/progress.h"
printf '#include "commands.h"\n#include "coll/coll.h"\n' >"$t/tools/tacl/main.c"
echo '/* coll.h */' >"$t/src/coll/coll.h"
out=$(bash "$script" --root "$t" 2>&1) || fail "clean tree refused: $out"
echo "$out" | grep -q "check_layers: OK (4 layers" || fail "no OK line: $out"
# Up the layers: the engine folder includes a collectives header.
printf '#include "err.h"\n#include "coll/coll.h"\n' >"$t/src/transport/engine/progress.c"
out=$(bash "$script" --root "$t" 2>&1)
rc=$?
[ $rc = 1 ] || fail "exit $rc for an upward include: $out"
echo "$out" | grep -qF 'src/transport/engine/progress.c:2: #include "coll/coll.h" goes up the layers: transports (src/transport/engine/progress.c) uses collectives (src/coll/coll.h)' ||
    fail "violation not named: $out"
echo "$out" | grep -q "1 use(s) against the layer order (core < transports < collectives < tools)" ||
    fail "no summary: $out"
# Calls: objects laid out as the build lays them out (OBJDIR/<folder under src>/<file>.o).
printf '#include "err.h"\n#include "tacl.h"\n' >"$t/src/transport/engine/progress.c"
obj="$t/obj"
mkdir -p "$obj/core" "$obj/coll"
echo 'int coll_helper(void) { return 1; }' >"$t/coll_b.c"
echo 'int coll_helper(void); int core_user(void) { return coll_helper(); }' >"$t/core_a.c"
cc=${CC:-cc}
command -v "$cc" >/dev/null || { echo "SKIP: no C compiler for the call check"; exit 77; }
"$cc" -c "$t/coll_b.c" -o "$obj/coll/coll.c.o" && "$cc" -c "$t/core_a.c" -o "$obj/core/log.c.o" ||
    fail "cannot compile the objects"
out=$(bash "$script" --root "$t" --objects "$obj" 2>&1)
rc=$?
[ $rc = 1 ] || fail "exit $rc for an upward call: $out"
echo "$out" | grep -qF "src/core/log.c: calls coll_helper, defined by src/coll/coll.c: core uses collectives" ||
    fail "call not named: $out"
echo "check_layers_detects: ok"
