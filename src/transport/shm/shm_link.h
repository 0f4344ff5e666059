/* shm_link.h — the shm link type: a pair of same-host ranks shares one segment (made with
 * tacl__shm_seg_create by the lower rank and attached by the other from its offer, so no name
 * outlives the setup) holding one single-producer/single-consumer byte ring per direction and a
 * "sleeping" flag per side. The engine polls the rings while it
 * spins; before it blocks in epoll it raises its flag, and a peer that moves bytes on a ring
 * whose reader (or writer) sleeps sends a WAKE frame on the pair's tcp connection, which is in
 * the sleeper's epoll set. */
#ifndef TACL_TRANSPORT_SHM_LINK_H
#define TACL_TRANSPORT_SHM_LINK_H

#include "err.h"
#include "transport/transport.h"
#include "xchg.h"

#include <stddef.h>

extern const tacl__link_ops_t tacl__shm_link_ops;
/* The row of tacl__link_types (transport.h): same host id, unless TACL_SHM_DISABLE. */
extern const tacl__link_type_t tacl__shm_link_type;

#endif
