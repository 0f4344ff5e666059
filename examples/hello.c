/* hello.c — the smallest tacl program: joins the world through the rendezvous store (whatever
 * launcher started it: tacl run, torchrun, mpirun, srun, or nothing), says who and where it is,
 * and checks one all_reduce: the sum of every rank's number.
 *
 *   build/tools/tacl/tacl run -n 4 -- build/examples/hello */
#include <tacl.h>

#include <stdio.h>

int main(void)
{
    tacl_bootstrap_t b;
    tacl_comm_t *world;
    if (tacl_bootstrap_from_env(&b) != TACL_OK || tacl_init(&world) != TACL_OK) {
        fprintf(stderr, "hello: %s\n", tacl_last_error());
        return 1;
    }
    int rank = tacl_comm_rank(world), size = tacl_comm_size(world);
    int64_t sum = rank;
    tacl_status_t st = tacl_all_reduce(world, &sum, &sum, 1, TACL_INT64, TACL_SUM);
    if (st != TACL_OK || sum != (int64_t)size * (size - 1) / 2) {
        fprintf(stderr, "hello: rank %d: all_reduce gave %lld (%s): %s\n", rank, (long long)sum,
                tacl_status_name(st), tacl_comm_last_error(world));
        tacl_comm_destroy(world);
        return 1;
    }
    printf("rank %d of %d (local %d of %d) on host %s, launcher %s, all_reduce ok\n", rank, size,
           tacl_comm_local_rank(world), tacl_comm_local_size(world), tacl_comm_host_id(world, rank),
           tacl_launcher_name(b.launcher));
    tacl_comm_destroy(world);
    return 0;
}
