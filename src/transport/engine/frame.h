/* frame.h — what the engine accepts in a fragment header from a link, decided by one pure
 * function over the 96 header bytes and the receiver's place in the world (its rank, the world
 * size, the rank at the other end of the link). The engine acts on the class it returns; the
 * fuzz target tests/fuzz/frame.c runs the same function against its own statement of
 * the rules. */
#ifndef TACL_TRANSPORT_ENGINE_FRAME_H
#define TACL_TRANSPORT_ENGINE_FRAME_H

#include "transport/transport.h"

typedef enum {
    TACL_FRAME_BAD = 0, /* protocol error: the engine drops the link */
    TACL_FRAME_LOCAL,   /* DATA for this rank: [offset, offset + len) lies inside total */
    TACL_FRAME_RELAY,   /* DATA for another rank of the world: forwarded along next_hop */
    TACL_FRAME_CTRL,    /* DEAD or CUT: ranks inside the world, a text of at most 255 bytes */
    TACL_FRAME_CMA,     /* CMA_RTS or CMA_FIN from the direct peer, no payload */
    TACL_FRAME_IDLE,    /* HEARTBEAT or WAKE, no payload */
    TACL_FRAME_GRANT,   /* CREDIT for a routed flow: ranks inside the world, no payload */
    TACL_FRAME_SETUP    /* LINK from the direct peer for this rank: a known step, a text of at
                           most TACL_LINK_MSG_MAX bytes (the type index is the engine's to check) */
} tacl__frame_class_t;

/* The longest text a DEAD or CUT frame carries. */
#define TACL_FRAME_CTRL_MAX 255

/* Classifies header h received on the link to peer by rank of a world of size ranks. On
 * TACL_FRAME_BAD, *why (when not NULL) says what was wrong, for the link-down message. */
tacl__frame_class_t tacl__frame_check(const tacl__frame_hdr_t *h, int rank, int size, int peer,
                                      const char **why);

#endif
