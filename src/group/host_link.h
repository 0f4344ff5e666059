/* host_link.h — how the GPU and group code reach the host communicator while it is not yet part
 * of the library: the host calls they use are declared weak, so libtacl.so links without them,
 * and tacl_host_link_check() turns their absence into TACL_ERR_UNAVAILABLE instead of a crash.
 * Once src/coll defines them in the library, the weak references bind to those definitions and
 * the check always passes. (For a static link, a program that calls tacl_init pulls the host
 * communicator in; the check catches a program that does not.) */
#ifndef TACL_GROUP_HOST_LINK_H
#define TACL_GROUP_HOST_LINK_H

#include "err.h"

#pragma weak tacl_broadcast
#pragma weak tacl_all_gather
#pragma weak tacl_all_reduce
#pragma weak tacl_barrier
#pragma weak tacl_comm_rank
#pragma weak tacl_comm_size
#pragma weak tacl_comm_split
#pragma weak tacl_comm_destroy

static inline tacl_status_t tacl_host_link_check(const char *what)
{
    if (tacl_broadcast && tacl_all_gather && tacl_all_reduce && tacl_barrier && tacl_comm_rank &&
        tacl_comm_size && tacl_comm_split && tacl_comm_destroy)
        return TACL_OK;
    return tacl_err(NULL, TACL_ERR_UNAVAILABLE, TACL_SUB_GPU,
                    "%s: the host communicator (tacl_broadcast, tacl_comm_split ...) is not part "
                    "of this build of tacl",
                    what);
}

#endif
