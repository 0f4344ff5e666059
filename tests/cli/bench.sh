#!/usr/bin/env bash
# bench.sh — `tacl bench` on 2 host ranks (under tacl run), table and -J: every size reports the
# median and 99th percentile of the per-iteration times next to the mean, consistent with it
# (a median can exceed neither twice the mean nor a p99, a p99 not the sum of all iterations),
# results are checked (#wrong 0), and `tacl plan --calibrate` still reads both outputs; --mem
# (tacl_mem_alloc's buffers) gives right values for all_reduce and reduce_scatter.
set -u
CLI=${TACL_CLI:?TACL_CLI not set}
command -v python3 >/dev/null || { echo "SKIP: python3 not installed" >&2; exit 77; }
DIR=$(mktemp -d "/tmp/tacl-bench-$$-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$DIR"/*; do [ -f "$f" ] && { echo "--- $f:" >&2; head -c 4000 "$f" >&2; }; done
    exit 1
}
ITERS=40
args=(all_reduce -b 8 -e 32K -f 8 -n $ITERS -w 2)
timeout 120 "$CLI" run -n 2 -- "$CLI" bench "${args[@]}" -J >"$DIR/bench.jsonl" 2>"$DIR/json.err" ||
    fail "tacl bench -J exited $?"
timeout 120 "$CLI" run -n 2 -- "$CLI" bench "${args[@]}" >"$DIR/bench.txt" 2>"$DIR/table.err" ||
    fail "tacl bench exited $?"
python3 - "$DIR/bench.jsonl" "$DIR/bench.txt" $ITERS <<'PY' || fail "bench output checks"
import json, sys
jpath, tpath, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
def consistent(what, mean, p50, p99):
    assert 0 < p50 <= p99, (what, p50, p99)
    # Each rank: at least half of its iterations take >= its median, so median <= 2 x mean; no
    # iteration is longer than all of them together. The slowest rank's figures bound the rest.
    assert p50 <= 2 * mean + 0.02, (what, mean, p50)
    assert p99 <= iters * mean + 0.02, (what, mean, p99)
sizes = []
for line in open(jpath):
    m = json.loads(line)
    assert m["backend"] == "host" and m["ranks"] == 2, m
    for k in ("out_of_place", "in_place"):
        o = m[k]
        assert o["wrong"] == 0, m
        consistent((m["size"], k), o["time_us"], o["p50_us"], o["p99_us"])
    sizes.append(m["size"])
assert sizes == [8, 64, 512, 4096, 32768], sizes
rows = 0
header = [l for l in open(tpath) if l.startswith("#") and "p50" in l]
assert header and header[0].split()[-4:] == ["p50", "p99", "p50", "p99"], header
for line in open(tpath):
    if line.startswith("#") or not line.strip():
        continue
    f = line.split()
    assert len(f) == 17, f
    size, t_oop, t_ip = int(f[0]), float(f[5]), float(f[9])
    assert f[8] == "0" and f[12] == "0", f
    consistent((size, "out"), t_oop, float(f[13]), float(f[14]))
    consistent((size, "in"), t_ip, float(f[15]), float(f[16]))
    rows += 1
assert rows == 5, rows
PY
# The calibration reader takes the time columns of both forms, whatever follows them.
for f in bench.jsonl bench.txt; do
    "$CLI" plan --calibrate "$DIR/$f" >"$DIR/cal_$f.json" 2>"$DIR/cal_$f.err" || fail "calibrate $f"
    python3 - "$DIR/cal_$f.json" <<'PY' || fail "calibration of $f"
import json, sys
fits = json.load(open(sys.argv[1]))["fits"]
host = [x for x in fits if x["backend"] == "host"]
assert len(host) == 1 and host[0]["ranks"] == 2 and host[0]["points"] == 5, fits
PY
done
# --mem: buffers from tacl_mem_alloc (all_reduce and reduce_scatter work in the peers' memory),
# values checked on every size; refused together with --gpu.
for coll in all_reduce reduce_scatter; do
    timeout 120 "$CLI" run -n 2 -- "$CLI" bench $coll -b 256K -e 4M -f 4 -n 10 -w 2 -c 2 --mem \
        >"$DIR/mem_$coll.txt" 2>"$DIR/mem_$coll.err" || fail "tacl bench $coll --mem exited $?"
    grep -q "^# tacl bench $coll (tacl_mem_alloc buffers): 2 ranks" "$DIR/mem_$coll.txt" ||
        fail "--mem header"
    grep -q "^# Out of bounds values : 0 OK" "$DIR/mem_$coll.txt" || fail "$coll --mem: wrong values"
    [ "$(grep -Ec '^ +[0-9]+ ' "$DIR/mem_$coll.txt")" = 3 ] || fail "$coll --mem: 3 sizes expected"
done
rc=0
"$CLI" bench all_reduce --mem --gpu >"$DIR/memgpu.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "does not go with --gpu" "$DIR/memgpu.txt" || fail "--mem --gpu: rc $rc"
echo "bench: ok"
