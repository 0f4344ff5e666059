/* route.h — all-pairs routes over the reachability graph: for every (src, dst) the next hop
 * a message takes, for small messages (latency and hops count) and for large ones (bandwidth
 * counts). Forwarding ranks look up the next hop of a message addressed to someone else here.
 * The tables are a pure function of the graph, with ties broken by a fixed rule (the direct
 * edge when it is a shortest route, else the lowest-ranked next hop on one), so every rank
 * builds the same tables and a routed message never loops.
 *
 * Costs (additive, so shortest paths are well defined; Dijkstra or Floyd-Warshall):
 *   small: sum over the path's edges of (latency + TACL_ROUTE_HOP_COST_S); with unknown (zero)
 *          latencies this is the hop count;
 *   large: sum of (latency + TACL_ROUTE_CHUNK_BYTES / bandwidth): the time a chunk takes to be
 *          stored and forwarded along the path, which avoids slow links and long detours. */
#ifndef TACL_TOPO_ROUTE_H
#define TACL_TOPO_ROUTE_H

#include "topo/graph.h"

#define TACL_ROUTE_HOP_COST_S  5e-6
#define TACL_ROUTE_CHUNK_BYTES (1 << 20)

typedef enum { TACL_ROUTE_SMALL = 0, TACL_ROUTE_LARGE = 1, TACL_ROUTE_KINDS } tacl__route_kind_t;

typedef struct tacl__routes tacl__routes_t;

/* Builds both tables. A disconnected graph is allowed (unreachable pairs have no next hop);
 * callers that need connectivity check it with tacl__graph_check_connected. */
tacl_status_t tacl__routes_build(const tacl__graph_t *g, tacl__routes_t **out, tacl__errbuf_t *eb);
void tacl__routes_destroy(tacl__routes_t *r);
/* Next rank on the way from src to dst: dst itself for a direct edge, src when src == dst,
 * -1 when dst is unreachable or an argument is out of range. */
int tacl__routes_next_hop(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst);
/* Number of edges on the route (0 for src == dst, -1 unreachable). */
int tacl__routes_hops(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst);
/* Route cost as defined above (seconds); -1 when unreachable. */
double tacl__routes_cost(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst);
/* Writes src, ..., dst into path (at most maxlen ranks); returns the number of ranks written,
 * or -1 when unreachable or the path does not fit. */
int tacl__routes_path(const tacl__routes_t *r, tacl__route_kind_t kind, int src, int dst, int *path,
                      int maxlen);

#endif
