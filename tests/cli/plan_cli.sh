#!/usr/bin/env bash
# plan_cli.sh — `tacl plan` through the built binary ($TACL_CLI): the seeds' chain (decision,
# rejection reason, vLLM command per host with the store on B, control-plane note), the star
# and a multi-homed hub, partial replicas, JSON (argv/env, store, predictions) and Graphviz
# output, the uneven split's VLLM_PP_LAYER_PARTITION, nothing fitting, --predict, a
# calibration round trip, bad files with line:column, the messages, usage.
set -u
cli=${TACL_CLI:?TACL_CLI names the tacl binary}
data=${TACL_SOURCE_DIR:?}/tests/data
tmp=$(mktemp -d /tmp/tacl_plan_cli.$$.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if ! "$cli" version | grep -q "yaml/json=yes"; then
  echo "SKIP: built without libfyaml (Debian: libfyaml-dev): tacl plan cannot read cluster files" >&2
  exit 77
fi
fail=0
check() { # check NAME COND...: report a failed condition without stopping
  local name=$1; shift
  if ! "$@"; then echo "FAIL: $name" >&2; fail=1; fi
}
has() { grep -qF -- "$2" "$1"; }
hasre() { grep -qE -- "$2" "$1"; }

# The chain: pipeline over A, B, C; TP over all three rejected for reachability.
"$cli" plan --cluster "$data/cluster/chain3.yaml" --model Llama-3-70B --concurrency 32 \
  >"$tmp/chain.txt" 2>"$tmp/chain.err"
check "chain exit 0" test $? -eq 0
check "chain chosen PP over 3 hosts" hasre "$tmp/chain.txt" '^chosen: TP(1|2) PP(3|6) DP1 '
check "chain rejected TP6" has "$tmp/chain.txt" 'TP group [A,B,C] needs A↔C: unreachable'
check "chain vllm node 2 on C" hasre "$tmp/chain.txt" 'VLLM_HOST_IP=10\.0\.0\.3 .*--node-rank 2 .*--headless'
# The store goes on B, the host linked to both others: every line points at B's address, and
# B's line to start it comes first.
check "chain master addr B on 3 lines" test "$(grep -c -- '--master-addr 10.0.0.2 ' "$tmp/chain.txt")" -eq 3
check "chain no master addr A" test "$(grep -c -- '--master-addr 10.0.0.1' "$tmp/chain.txt")" -eq 0
check "chain store line" hasre "$tmp/chain.txt" "the store on B, .*start it first"
check "chain store command" has "$tmp/chain.txt" "TCPStore('\''0.0.0.0'\'', 29501, is_master=True"
check "chain hf id" has "$tmp/chain.txt" 'vllm serve meta-llama/Meta-Llama-3-70B-Instruct '
check "chain notes section" hasre "$tmp/chain.txt" '^notes:$'
check "chain notes every layout" test "$(grep -cE '^  TP[0-9]+ PP[0-9]+ DP[0-9]+ +control plane' "$tmp/chain.txt")" -ge 3
check "chain ifname" has "$tmp/chain.txt" 'NCCL_SOCKET_IFNAME=eth0'
check "chain control plane" has "$tmp/chain.txt" 'forward IP through B'
check "chain placement" hasre "$tmp/chain.txt" '^  C +GPU0=r4'

# Asking for the rejected layout says why; asking for PP over the chain details it.
"$cli" plan --cluster "$data/cluster/chain3.yaml" --model Llama-3-70B --layout 6 >/dev/null \
  2>"$tmp/l6.err"
check "layout 6 exit 1" test $? -eq 1
check "layout 6 reason" has "$tmp/l6.err" 'layout TP6 PP1: 64 attention heads are not divisible by TP=6'
check "layout 6 reachability" has "$tmp/l6.err" 'TP group [A,B,C] needs A↔C: unreachable'
"$cli" plan --cluster "$data/cluster/chain3.yaml" --model Llama-3-70B --layout 1,6 >"$tmp/l16.txt"
check "layout 1,6 chosen" hasre "$tmp/l16.txt" '^chosen: TP1 PP6 DP1 '

# JSON: parses, and says the same.
"$cli" plan --cluster "$data/cluster/chain3.yaml" --model Llama-3-70B --concurrency 32 -J \
  >"$tmp/chain.json"
check "json exit 0" test $? -eq 0
if command -v python3 >/dev/null; then
  python3 - "$tmp/chain.json" <<'PY' || { echo "FAIL: json content" >&2; fail=1; }
import json, sys
d = json.load(open(sys.argv[1]))
ch = d["chosen"]
assert ch["pp"] in (3, 6) and ch["dp"] == 1 and ch["state"] == "ok", ch
assert sorted({r["host"] for r in d["placement"]}) == ["A", "B", "C"]
rej = [l for l in d["layouts"] if l["tp"] == 6]
assert rej and rej[0]["state"] == "rejected" and "needs A↔C" in rej[0]["reason"], rej
# the vLLM commands: argv lists and env maps, the store on B reached by all
cmds = d["vllm"]
assert [c["host"] for c in cmds] == ["A", "B", "C"], cmds
for c in cmds:
    a = c["argv"]
    assert a[:3] == ["vllm", "serve", "meta-llama/Meta-Llama-3-70B-Instruct"], a
    assert a[a.index("--master-addr") + 1] == "10.0.0.2", a
    assert c["env"]["NCCL_SOCKET_IFNAME"] == "eth0", c
st = d["store"][0]
assert st["host"] == "B" and st["node0"] is False and st["argv"][0] == "python3", st
assert st["addresses"] == {"A": "10.0.0.2", "B": "10.0.0.2", "C": "10.0.0.2"}, st
ok = [l for l in d["layouts"] if l["state"] == "ok"]
assert all("predict" in l for l in ok), ok[0]
tp2 = [l for l in ok if l["tp"] == 2 and l["pp"] == 3][0]
ar = tp2["predict"]["tp_all_reduce"]
assert ar["eager_us"] > ar["graph_us"] > 0, ar
PY
fi

# Graphviz: hosts, links, the chosen layout in the label.
"$cli" plan --cluster "$data/cluster/chain3.yaml" --model Llama-3-70B --dot >"$tmp/chain.dot"
check "dot header" hasre "$tmp/chain.dot" '^graph tacl_plan \{'
check "dot link" has "$tmp/chain.dot" 'h1 -- h2 [label="12.5 GB/s'
check "dot A-C needed, no link" has "$tmp/chain.dot" 'h0 -- h2 [style=dashed, color=gray, label="no link"]'
check "dot bottleneck marked" hasre "$tmp/chain.dot" 'h[01] -- h[12] .*color=red'

# Uneven memory: the first stage holds more layers, passed to vLLM.
"$cli" plan --cluster "$data/cluster/uneven2.yaml" --model Llama-3-70B --quantization fp8 \
  --concurrency 8 >"$tmp/uneven.txt"
part=$(grep -oE 'VLLM_PP_LAYER_PARTITION=[0-9]+,[0-9]+' "$tmp/uneven.txt" | head -1 | cut -d= -f2)
check "uneven partition printed" test -n "$part"
if [ -n "$part" ]; then
  check "uneven partition sums to 80" test $((${part%,*} + ${part#*,})) -eq 80
  check "uneven first stage larger" test "${part%,*}" -gt "${part#*,}"
fi
check "uneven quantization flag" has "$tmp/uneven.txt" '--quantization fp8'

# Nothing fits: exit 1, the closest layout and the memory it misses.
"$cli" plan --cluster "$data/cluster/chain3.yaml" --model Llama-3.1-405B >"$tmp/nofit.txt"
check "nofit exit 1" test $? -eq 1
check "nofit closest" hasre "$tmp/nofit.txt" '^closest: TP[0-9]+ PP[0-9]+ DP[0-9]+: [0-9.]+ GB missing per GPU'

# Bad inputs: file:line:column and what was expected.
printf 'hosts:\n  - {name: A, gpus: 8, gpu: H100}\nlinks:\n  - {hosts: [A, Z], bandwidth: 1Gbps}\n' \
  >"$tmp/bad.yaml"
"$cli" plan --cluster "$tmp/bad.yaml" --model Llama-3-8B >/dev/null 2>"$tmp/bad.err"
check "bad cluster exit 1" test $? -eq 1
check "bad cluster position" has "$tmp/bad.err" "bad.yaml:4:17: links[].hosts: expected a host declared under hosts, found 'Z'"
"$cli" plan --cluster "$data/cluster/chain3.yaml" --model "$data/plan/bad_config.json" \
  >/dev/null 2>"$tmp/badm.err"
check "bad model exit 1" test $? -eq 1
check "bad model position" has "$tmp/badm.err" "bad_config.json:3:25: num_hidden_layers: expected an integer"
# The star L1-H-L2: the store on H, every line reaches it.
"$cli" plan --cluster "$data/cluster/star3.yaml" --model Llama-3-70B >"$tmp/star.txt"
check "star exit 0" test $? -eq 0
check "star master addr H on 3 lines" test "$(grep -c -- '--master-addr 10.0.0.1 ' "$tmp/star.txt")" -eq 3
check "star store on H" has "$tmp/star.txt" 'store: on H, linked to every host of instance 0 (node 0, L1, is not)'

# A multi-homed hub: each host's line names the hub's address on its own network.
"$cli" plan --cluster "$data/cluster/multihome3.yaml" --model Llama-3-70B >"$tmp/mh.txt"
check "multihome X" hasre "$tmp/mh.txt" 'VLLM_HOST_IP=10\.1\.0\.2 vllm serve .* --master-addr 10\.1\.0\.1 '
check "multihome Y" hasre "$tmp/mh.txt" 'VLLM_HOST_IP=10\.2\.0\.2 vllm serve .* --master-addr 10\.2\.0\.1 '

# Partial replicas: one TP4 replica on the 80 GB host, not "does not fit".
"$cli" plan --cluster "$data/cluster/mixed80.yaml" --model Llama-3-70B --rows 0 >"$tmp/mixed.txt"
check "mixed exit 0" test $? -eq 0
check "mixed TP4 one replica" hasre "$tmp/mixed.txt" '^ +[0-9]+  TP4 PP1 DP1 +yes '
check "mixed TP4 partial note" has "$tmp/mixed.txt" 'partial: 1 of 2 replicas serve'
check "mixed no TP4 nofit" test "$(grep -cE '^ +[0-9]+  TP4 PP1 DP[0-9]+ +no ' "$tmp/mixed.txt")" -eq 0

# Unequal pods: one layout per kind of host, with its vLLM lines.
"$cli" plan --cluster "$data/cluster/mixed_h200_l40s.yaml" --model Llama-3-70B --quantization fp8 \
  --concurrency 512 >"$tmp/set.txt"
check "set exit 0" test $? -eq 0
check "set reported" hasre "$tmp/set.txt" '^best set on unequal hosts: [0-9]+ tokens/s'
check "set H200 part" hasre "$tmp/set.txt" '^  8 x H200-141GB on 2 hosts \(big0\.\.big1\): TP'
check "set L40S part" hasre "$tmp/set.txt" '^  4 x L40S on 4 hosts \(small0\.\.small3\): TP'

# --predict: hand-computed alpha-beta (1 MiB over 8 NV18 GPUs: 5.23 us of transfer; start-up
# 10 us eager, 8 us under a CUDA graph), text and JSON; --model=X and --opt=value forms.
"$cli" plan --predict all_reduce 1MiB --gpus 8 >"$tmp/pred.txt"
check "predict exit 0" test $? -eq 0
check "predict eager" hasre "$tmp/pred.txt" 'eager: +15\.23 us'
check "predict graph" hasre "$tmp/pred.txt" 'graph-captured: +13\.23 us'
"$cli" plan --cluster="$data/cluster/chain3.yaml" --predict=all_reduce 1MiB --gpus=A,B -J >"$tmp/pred.json"
check "predict cross-host exit 0" test $? -eq 0
if command -v python3 >/dev/null; then
  python3 - "$tmp/pred.json" <<'PY' || { echo "FAIL: predict json" >&2; fail=1; }
import json, sys
d = json.load(open(sys.argv[1]))
# 4 GPUs over A-B (12.5 GB/s, 5 us): 1.5 MiB / 9.75 GB/s = 161.32 us; 8 + 20 + 2*5 = 38 us
assert d["hosts"] == 2 and d["gpus"] == 4, d
assert abs(d["graph_us"] - 199.317) < 0.01 and abs(d["eager_us"] - 201.317) < 0.01, d
PY
fi
"$cli" plan --predict all_reduce 1MiB --gpus A,C --cluster "$data/cluster/chain3.yaml" 2>"$tmp/predac.err"
check "predict unlinked exit 1" test $? -eq 1
check "predict unlinked message" has "$tmp/predac.err" 'the group needs A↔C, which are not linked'
"$cli" plan --predict allreduce 1XB --gpus 8 2>"$tmp/predbad.err"
check "predict bad size exit 2" test $? -eq 2
check "predict bad size message" has "$tmp/predbad.err" "expected a size such as 1MiB, 64K or 4096, found '1XB'"

# Calibration round trip on the repository's own measurements: a host `tacl bench -J` run and
# NCCL's eager all_reduce on 4x H200 -> calibration file -> predictions equal to the measured
# times within each fit's own error, and the NCCL fit's error is small.
"$cli" plan --calibrate "$data/plan/bench_host_ar2.jsonl" "$data/plan/anchors/ncclraw_4_eager.txt" \
  >"$tmp/cal.json"
check "calibrate exit 0" test $? -eq 0
if command -v python3 >/dev/null; then
  python3 - "$cli" "$tmp/cal.json" "$data" <<'PY' || { echo "FAIL: calibration round trip" >&2; fail=1; }
import json, subprocess, sys
cli, cal, data = sys.argv[1:]
fits = json.load(open(cal))["fits"]
host = [f for f in fits if f["backend"] == "host"][0]
gpu = [f for f in fits if f["backend"] == "gpu" and f["ranks"] == 4][0]
assert host["collective"] == "all_reduce" and host["ranks"] == 2 and host["points"] == 7, host
assert gpu["points"] == 19 and gpu["err_mean"] < 0.10, gpu
def predict(size, *extra):
    out = subprocess.run([cli, "plan", "--predict", "all_reduce", str(size), "--calibration",
                          cal, "-J", *extra], check=True, capture_output=True, text=True).stdout
    return json.loads(out)
for line in open(data + "/plan/bench_host_ar2.jsonl"):
    m = json.loads(line)
    t = min(m["out_of_place"]["time_us"], m["in_place"]["time_us"])
    p = predict(m["size"], "--gpus", "2", "--backend", "host")
    assert abs(p["time_us"] - t) <= host["err_max"] * t * 1.001 + 0.01, (m["size"], p, t)
    # the fit read times, not element counts: its bandwidth is of the measured order
    assert p["busbw_gbs"] > 0.1, p
rows = [l.split() for l in open(data + "/plan/anchors/ncclraw_4_eager.txt") if l[0] != "#"]
errs = []
for r in rows:
    size, t = float(r[0]), float(r[1])
    p = predict(int(size), "--gpus", "4", "--gpu", "H200")
    assert p["calibrated_eager"], p
    e = abs(p["eager_us"] - t) / t
    assert e <= gpu["err_max"] + 1e-3, (size, p["eager_us"], t)
    errs.append(e)
assert abs(sum(errs) / len(errs) - gpu["err_mean"]) < 1e-3, (errs, gpu)
PY
fi

# Messages: a missing config.json path, an empty and a missing cluster file, no links.
"$cli" plan --cluster "$data/cluster/chain3.yaml" --model /nonexistent/dir/config.json \
  2>"$tmp/nocfg.err" >/dev/null
check "missing config exit 1" test $? -eq 1
check "missing config message" has "$tmp/nocfg.err" 'tacl plan: model /nonexistent/dir/config.json: no such file'
: >"$tmp/empty.yaml"
"$cli" plan --cluster "$tmp/empty.yaml" --model Llama-3-8B 2>"$tmp/empty.err" >/dev/null
check "empty cluster exit 1" test $? -eq 1
check "empty cluster message" has "$tmp/empty.err" "empty.yaml: the file is empty"
"$cli" plan --cluster "$tmp/missing.yaml" --model Llama-3-8B 2>"$tmp/missing.err" >/dev/null
check "missing cluster message" has "$tmp/missing.err" "missing.yaml: no such file"
check "empty and missing differ" test "$(sed 's/.*: //' "$tmp/empty.err")" != "$(sed 's/.*: //' "$tmp/missing.err")"
printf 'hosts:\n  - {name: A}\n' >"$tmp/nogpu.yaml"
"$cli" plan --cluster "$tmp/nogpu.yaml" --model=Llama-3-8B 2>"$tmp/nogpu.err" >/dev/null
check "no doubled prefix" test "$(grep -c 'plan: plan:' "$tmp/nogpu.err")" -eq 0
check "model= accepted, no gpus" has "$tmp/nogpu.err" 'tacl plan: cluster'
printf 'hosts:\n  - {name: A, gpus: 1, gpu: H100}\n  - {name: B, gpus: 1, gpu: H100}\n' >"$tmp/nolinks.yaml"
"$cli" plan --cluster "$tmp/nolinks.yaml" --model Llama-3-8B 2>"$tmp/nolinks.err" >/dev/null
check "no links warning" has "$tmp/nolinks.err" 'tacl plan: warning:'
check "no links warning text" has "$tmp/nolinks.err" '2 hosts but no links'
"$cli" plan --cluster "$data/cluster/chain3.yaml" >/dev/null 2>"$tmp/usage.err"
check "usage exit 2" test $? -eq 2
check "usage message" has "$tmp/usage.err" 'expected --cluster FILE and --model'
"$cli" plan --help >"$tmp/help.txt"
check "help" has "$tmp/help.txt" 'usage: tacl plan --cluster FILE'

if [ $fail -ne 0 ]; then
  echo "--- chain output:" >&2; cat "$tmp/chain.txt" >&2
  exit 1
fi
echo "plan cli: ok"
