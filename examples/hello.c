/* hello.c — the smallest tacl program: finds out who it is from the launcher that started it
 * (tacl run, torchrun, mpirun, srun, or nothing) and which host it is on, and says so.
 *
 *   build/tools/tacl/tacl run -n 4 -- build/examples/hello */
#include <tacl.h>

#include <stdio.h>

int main(void)
{
    tacl_bootstrap_t b;
    char host[512];
    if (tacl_bootstrap_from_env(&b) != TACL_OK) {
        fprintf(stderr, "hello: %s\n", tacl_last_error());
        return 1;
    }
    if (tacl_host_id(host, sizeof host) != TACL_OK) {
        fprintf(stderr, "hello: rank %d: %s\n", b.rank, tacl_last_error());
        return 1;
    }
    printf("rank %d of %d (local %d of %d) on host %s, launcher %s\n", b.rank, b.size, b.local_rank,
           b.local_size, host, tacl_launcher_name(b.launcher));
    return 0;
}
