/* store_client_int.h — what the rendezvous store client's files share (store_client.c: the
 * handle and the exchange; store_client_conn.c: connecting and the handshake;
 * store_client_ops.c: the operations): the handle, a reply, and the functions each file offers
 * the others. Nothing outside the client includes this. */
#ifndef TACL_BOOT_STORE_CLIENT_INT_H
#define TACL_BOOT_STORE_CLIENT_INT_H

#include "boot/store_int.h"
#include "boot/store_proto.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct tacl_store {
    int fd; /* -1 after a broken exchange: the next call reconnects */
    int port;
    char host[256];
    char addr[300]; /* host:port for messages */
    double timeout_s;
    tacl__errbuf_t eb;
};

typedef struct {
    tacl_status_t status;
    uint32_t n;
    uint8_t *body; /* malloc'd; items point into it */
    const uint8_t **items;
    uint32_t *lens;
} cli_resp_t;

/* store_client.c: frees a reply's buffers and clears it. */
void boot_store_cli_resp_free(cli_resp_t *r);
/* store_client.c: one request/response exchange. keys (nkeys of the items) name the request in
 * messages. blocking: the request may wait at the server; the server is told the time left. */
tacl_status_t boot_store_cli_call(tacl_store_t *st, store_op_t op, uint32_t n,
                                  const void *const *items, const size_t *lens,
                                  const char *const *keys, size_t nkeys, int blocking,
                                  cli_resp_t *resp);

/* store_client_conn.c: connects st->fd, retrying with backoff until timeout_s passes (once when
 * retry is 0); closes the connection after a broken exchange; sends or receives exactly len
 * bytes before deadline (0, or -1 with errno: ETIMEDOUT, EPIPE for a closed stream). */
tacl_status_t boot_store_cli_connect(tacl_store_t *st, double timeout_s, int retry);
void boot_store_cli_drop(tacl_store_t *st);
int boot_store_cli_io(int fd, void *buf, size_t len, int sending, uint64_t deadline);

#endif
