#!/usr/bin/env bash
# plan_cli.sh — `tacl plan` through the built binary ($TACL_CLI): the seeds' chain (decision,
# rejection reason, vLLM command per host, control-plane note), JSON and Graphviz output, the
# uneven split's VLLM_PP_LAYER_PARTITION, nothing fitting, bad files with line:column, usage.
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
check "chain master addr" has "$tmp/chain.txt" '--master-addr 10.0.0.1'
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
assert "--pipeline-parallel-size" in d["vllm"]
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
