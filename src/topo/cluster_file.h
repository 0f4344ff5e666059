/* cluster_file.h — reading cluster description files (YAML or JSON, docs/CLUSTER_FORMAT.md)
 * and the small document helpers shared with the planner's model reader: load a YAML/JSON
 * document with libfyaml, look keys up, convert scalars, and report errors as
 * "file:line:column: what was expected" with TACL_ERR_CONFIG. */
#ifndef TACL_TOPO_CLUSTER_FILE_H
#define TACL_TOPO_CLUSTER_FILE_H

#include "topo/cluster.h"

struct fy_document;
struct fy_node;

typedef struct {
    char file[256]; /* the name used in messages */
    struct fy_document *doc;
    char *text; /* a file's text, which doc refers to (NULL for tacl__doc_parse) */
} tacl__doc_t;

/* Parses a file (path) or a string (text, named name in messages). A syntax error gives
 * TACL_ERR_CONFIG "file:line:col: <parser message>"; without libfyaml, TACL_ERR_UNAVAILABLE. */
tacl_status_t tacl__doc_load(const char *path, tacl__doc_t *d);
/* Checks a file before parsing; TACL_ERR_CONFIG "path: no such file", or for a directory, an
 * unreadable file, one over TACL_CLUSTER_FILE_MAX, or an empty one ("the file is empty").
 * tacl__doc_load calls it. */
tacl_status_t tacl__doc_check_file(const char *path);
tacl_status_t tacl__doc_parse(const char *name, const char *text, tacl__doc_t *d);
void tacl__doc_close(tacl__doc_t *d);
struct fy_node *tacl__doc_root(const tacl__doc_t *d);

/* Records TACL_ERR_CONFIG "file:line:col: message" for node n (NULL: the document start). */
tacl_status_t tacl__doc_err(const tacl__doc_t *d, struct fy_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1-based position of a node (its first scalar for collections). */
void tacl__doc_pos(struct fy_node *n, int *line, int *col);

/* Typed getters: each checks the node's kind and records a positioned error naming key. */
struct fy_node *tacl__doc_get(struct fy_node *map, const char *key); /* NULL when absent */
tacl_status_t tacl__doc_str(const tacl__doc_t *d, struct fy_node *n, const char *key, char *buf,
                            size_t len);
tacl_status_t tacl__doc_int(const tacl__doc_t *d, struct fy_node *n, const char *key, long min,
                            long max, long *out);
tacl_status_t tacl__doc_num(const tacl__doc_t *d, struct fy_node *n, const char *key, double min,
                            double *out);
tacl_status_t tacl__doc_bool(const tacl__doc_t *d, struct fy_node *n, const char *key, int *out);
/* Checks that every key of map is in the NULL-terminated list allowed. */
tacl_status_t tacl__doc_keys(const tacl__doc_t *d, struct fy_node *map, const char *what,
                             const char *const *allowed);

/* Reads a cluster description. Every error is TACL_ERR_CONFIG with file:line:column. */
tacl_status_t tacl__cluster_read(const tacl__doc_t *d, tacl_cluster_t **out);

#endif
