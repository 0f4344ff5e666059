/* mq_broadcast.c — a scheduler (rank 0) sends every step's metadata to its workers through a
 * broadcast message queue, as vLLM's engine does with its shm_broadcast queue: workers read each
 * step in place (a zero-copy view on rank 0's host), check it, and release it; an empty message
 * says "stop". Workers on other hosts get the same messages over the network.
 *
 *   build/tools/tacl/tacl run -n 4 -- build/examples/mq_broadcast */
#include <tacl.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    tacl_comm_t *world;
    tacl_mq_t *q;
    if (tacl_init(&world) != TACL_OK) {
        fprintf(stderr, "mq_broadcast: %s\n", tacl_last_error());
        return 1;
    }
    int rank = tacl_comm_rank(world), bad = 0, steps = 0;
    if (tacl_mq_create(world, 0, NULL, &q) != TACL_OK) {
        fprintf(stderr, "mq_broadcast: rank %d: %s\n", rank, tacl_comm_last_error(world));
        tacl_comm_destroy(world);
        return 1;
    }
    if (rank == 0) {
        char step[256];
        for (int s = 0; s < 1000 && !bad; s++) {
            int n = snprintf(step, sizeof step, "step %d: schedule %d sequences", s, s % 17);
            bad = tacl_mq_enqueue(q, step, (size_t)n) != TACL_OK;
        }
        bad = bad || tacl_mq_enqueue(q, NULL, 0) != TACL_OK;
    } else {
        for (;;) {
            const void *msg;
            size_t len;
            if (tacl_mq_dequeue(q, &msg, &len) != TACL_OK) {
                bad = 1;
                break;
            }
            char want[256];
            int n =
                snprintf(want, sizeof want, "step %d: schedule %d sequences", steps, steps % 17);
            int stop = len == 0;
            bad = !stop && (len != (size_t)n || memcmp(msg, want, len) != 0);
            tacl_mq_release(q);
            if (stop || bad) break;
            steps++;
        }
    }
    if (bad)
        fprintf(stderr, "mq_broadcast: rank %d: %s\n", rank, tacl_mq_last_error(q));
    else if (rank)
        printf("rank %d: %d steps received in order\n", rank, steps);
    tacl_mq_destroy(q);
    tacl_comm_destroy(world);
    return bad;
}
