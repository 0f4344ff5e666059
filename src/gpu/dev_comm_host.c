/* dev_comm_host.c — tacl_dev_comm_create over a host communicator: the bootstrap's broadcast and
 * all-gather are the host collectives on uint8. Kept apart from dev_comm.c so that programs
 * which create device communicators over another bootstrap do not pull in the host side. */
#include "coll/comm.h"
#include "gpu/dev_comm.h"
#include "settings.h"

static tacl_status_t dev_host_bcast(void *ctx, void *buf, size_t len, int root, tacl__errbuf_t *eb)
{
    tacl_comm_t *c = ctx;
    tacl_status_t st = tacl_broadcast(c, buf, buf, len, TACL_UINT8, root);
    if (st != TACL_OK) return tacl__err_keep(eb, st);
    return TACL_OK;
}

static tacl_status_t dev_host_allgather(void *ctx, const void *mine, size_t len, void *all,
                                        tacl__errbuf_t *eb)
{
    tacl_comm_t *c = ctx;
    tacl_status_t st = tacl_all_gather(c, mine, all, len, TACL_UINT8);
    if (st != TACL_OK) return tacl__err_keep(eb, st);
    return TACL_OK;
}

static int dev_host_alive(void *ctx, int rank)
{
    return tacl_comm_peer_alive(ctx, rank);
}

static unsigned dev_host_live_gen(void *ctx)
{
    return comm_live_gen(ctx);
}

tacl_status_t tacl_dev_comm_create(tacl_comm_t *host_comm, int device, tacl_dev_comm_t **out)
{
    if (!host_comm || !out)
        return tacl__err(NULL, TACL_ERR_INVALID, TACL_SUB_GPU,
                         "tacl_dev_comm_create: host_comm and out must not be NULL");
    tacl__dev_boot_t b = {dev_host_bcast,
                          dev_host_allgather,
                          host_comm,
                          tacl_comm_rank(host_comm),
                          tacl_comm_size(host_comm),
                          tacl__setting_dbl(TACL_SET_TIMEOUT),
                          dev_host_alive,
                          dev_host_live_gen};
    return tacl__dev_comm_create_boot(&b, device, out);
}
