/* algo_cost.h — the cost model the selector scores algorithms with: alpha-beta per step over
 * the communicator's links (bandwidth and latency declared by a topology file or measured by
 * TACL_TOPO_MEASURE; the defaults below otherwise), a reduction rate, and the shared-memory
 * group's rates on one host. Predictions are pure functions of the communicator's shape and
 * the call's model bytes, identical on every rank, so every rank picks the same row. */
#ifndef TACL_COLL_ALGO_COST_H
#define TACL_COLL_ALGO_COST_H

#include "coll/algo.h"

/* Calibration: constants measured by the benchmarks, as recorded in bench/RESULTS.md; to
 * re-measure on a host, `build/bench/shm_allreduce -n N` (time at 8 B: COST_SHM_STEP_S; busbw
 * from 1 MiB: COST_SHM_BUSBW), `build/bench/engine_bench shm` and `tcp` (latency at 8 B minus
 * the wire's: COST_ENGINE_STEP_S; streaming rate: COST_LINK_*_BW).
 * The shm group ("Shared-memory all_reduce", "Host all_reduce on the GPU machine's CPUs"): one
 * step, flags published and seen, 0.12-0.56 us at 8 B on 2-8 ranks; bus bandwidth from 1 MiB
 * 4.4-16 GB/s, about one core's copy rate. The group is never rated below the communicator's
 * fastest same-host link: it moves the same bytes without the engine's framing. */
#define COST_SHM_STEP_S 0.5e-6
#define COST_SHM_BUSBW  6e9
/* One engine message step on top of the link's latency: handing the request to the progress
 * thread and completing it ("Point-to-point engine": shm 2.6 us half round trip at 8 B). */
#define COST_ENGINE_STEP_S 2e-6
/* Links nothing measured or declared: same host (engine rings, "Point-to-point engine": shm
 * 6-9 GB/s streaming) and another host (10 Gb/s Ethernet, a switch hop). */
#define COST_LINK_HOST_BW  6e9
#define COST_LINK_HOST_LAT 1e-6
#define COST_LINK_NET_BW   1.25e9
#define COST_LINK_NET_LAT  20e-6
/* Reduction of vectors in memory, bytes of one operand per second ("Reduction kernels" measures
 * 26-57 GB/s from cache; memory bound here, like the shm group's copy rate). */
#define COST_REDUCE_BW 8e9
/* A later registry row must be predicted this much faster than the best earlier one. */
#define COST_TIE 0.10

double cost_shm(tacl_comm_t *c, const coll_args_t *a, double bytes);
double cost_ring(tacl_comm_t *c, const coll_args_t *a, double bytes);
double cost_rd(tacl_comm_t *c, const coll_args_t *a, double bytes);
double cost_rhd(tacl_comm_t *c, const coll_args_t *a, double bytes);
double cost_tree(tacl_comm_t *c, const coll_args_t *a, double bytes);
double cost_multitree(tacl_comm_t *c, const coll_args_t *a, double bytes);
double cost_hier(tacl_comm_t *c, const coll_args_t *a, double bytes);
double cost_direct(tacl_comm_t *c, const coll_args_t *a, double bytes);

/* Figures of the communicator's graph the model uses (coll_topo.c, at creation): slowest
 * bandwidth and largest latency over all pairs of a full mesh, over the ring order's edges,
 * over the host leaders' pairs; fastest same-host link; ranks on the fullest host. */
void cost_shape_init(tacl_comm_t *c);

#endif
