#!/usr/bin/env bash
# gpu_machine.sh OUT — everything tacl measures on the GPU test machine, in one go: build,
# GPU tests, which NCCL gets loaded on request, device all_reduce through tacl (plain and
# CUDA-graph captured) against raw NCCL from C (the same library tacl loaded; the system one
# too) and torch.distributed, on 2 and 4 GPUs, and the
# host all_reduce on 4 and 8 ranks against Open MPI, with a STREAM-like copy bandwidth.
# Logs go to OUT/*.txt. NVLink multicast stays off (NCCL_NVLS_ENABLE=0).
set -u
OUT=${1:-/tmp/tacl-gpu}
mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
cd "$(dirname "$0")/.."
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
{
    nvidia-smi -L; nproc; lscpu | grep 'Model name'; date -u
    python3 -c 'import torch; print("torch", torch.__version__, "nccl", torch.cuda.nccl.version(), "gpus", torch.cuda.device_count())'
    which mpirun mpicc
} >"$OUT/machine.txt" 2>&1
log build
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DTACL_BUILD_TESTS=ON >"$OUT/build.txt" 2>&1 &&
    cmake --build build-gpu -j"$(nproc)" >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
T=build-gpu/tools/tacl/tacl
NG=$(nvidia-smi -L | wc -l)
log "gpus: $NG"

log "which NCCL"
{
    for v in auto 1 0; do
        echo "--- TACL_USE_PYTORCH_NCCL=$v"
        TACL_USE_PYTORCH_NCCL=$v $T info --gpu
    done
    echo "--- TACL_NCCL_SO_PATH=/usr/lib/x86_64-linux-gnu/libnccl.so.2"
    TACL_NCCL_SO_PATH=/usr/lib/x86_64-linux-gnu/libnccl.so.2 $T info --gpu
} >"$OUT/nccl_choice.txt" 2>&1

log "gpu tests"
(cd build-gpu && ctest -L gpu --output-on-failure -j1) >"$OUT/gpu_tests.txt" 2>&1
tail -5 "$OUT/gpu_tests.txt" | tee -a "$OUT/summary.txt"

for n in 2 4; do
    [ "$n" -le "$NG" ] || continue
    # Small messages: raw ncclAllReduce and tacl_dev_all_reduce on the same NCCL library,
    # alternated in one process (medians of 7), buffer checks on every call (default) and cached.
    log "small all_reduce on $n GPUs: raw NCCL vs tacl_dev_all_reduce, one process"
    {
        $T run -n $n -- build-gpu/bench/gpu_nccl_raw 8 65536 1000 both 7
        TACL_GPU_CHECK_BUFFERS=cache $T run -n $n -- build-gpu/bench/gpu_nccl_raw 8 65536 1000 both 7
    } >"$OUT/small_$n.txt" 2>&1
    log "device all_reduce on $n GPUs"
    $T run -n $n -- $T bench all_reduce --gpu -b 8 -e 1G -f 4 -n 50 -w 10 -c 1 >"$OUT/tacl_gpu_$n.txt" 2>&1
    $T run -n $n -- $T bench all_reduce --gpu -G -b 8 -e 64M -f 4 -n 50 -w 10 -c 1 >"$OUT/tacl_gpu_graph_$n.txt" 2>&1
    $T run -n $n -- build-gpu/bench/gpu_nccl_raw 8 1073741824 50 >"$OUT/raw_nccl_$n.txt" 2>&1
    TACL_USE_PYTORCH_NCCL=0 $T run -n $n -- build-gpu/bench/gpu_nccl_raw 8 1073741824 50 >"$OUT/raw_nccl_sys_$n.txt" 2>&1
    $T run -n $n -- python3 bench/gpu_torch_allreduce.py 8 1073741824 50 >"$OUT/torch_$n.txt" 2>&1
    $T run -n $n -- $T bench all_reduce --gpu -b 8 -e 64M -f 8 -n 50 -w 10 -c 1 -d bfloat16 >"$OUT/tacl_gpu_bf16_$n.txt" 2>&1
done

log "host all_reduce: tacl vs Open MPI"
for n in 4 8; do
    $T run -n $n -- $T bench all_reduce -b 8 -e 64M -f 4 -n 50 -w 10 -c 1 >"$OUT/tacl_host_$n.txt" 2>&1
    if [ -x build-gpu/bench/mpi_allreduce ]; then
        build-gpu/bench/shm_allreduce -n $n -r 2 --mpi build-gpu/bench/mpi_allreduce >"$OUT/compare_host_$n.txt" 2>&1
    else
        build-gpu/bench/shm_allreduce -n $n -r 2 >"$OUT/compare_host_$n.txt" 2>&1
    fi
done
python3 - >"$OUT/stream.txt" 2>&1 <<'PY'
import time, ctypes
n = 64 << 20
a = ctypes.create_string_buffer(n); b = ctypes.create_string_buffer(n)
ctypes.memmove(b, a, n)
t = time.perf_counter()
for _ in range(20): ctypes.memmove(b, a, n)
dt = (time.perf_counter() - t) / 20
print(f"memcpy 64 MiB: {n/dt/1e9:.2f} GB/s (copy rate, bytes moved once)")
PY
log done
