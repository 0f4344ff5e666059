/* nodelist_test.c — Slurm host lists and tasks-per-node lists: every expansion is compared with
 * the list written out by hand, and every malformed input with its status and message. */
#include "boot/nodelist.h"
#include "check.h"

/* Expands spec and compares with the space-separated expected hosts. */
static void nl_expect(const char *spec, const char *expected)
{
    tacl__nodelist_t nl = {(char **)0x1, 99}; /* must stay untouched on failure, set on success */
    tacl_status_t st = tacl__nodelist_expand(spec, 0, &nl);
    if (st != TACL_OK) {
        fprintf(stderr, "expanding \"%s\" failed: %s\n", spec, tacl_last_error());
        exit(1);
    }
    char joined[4096] = "";
    size_t o = 0;
    for (size_t i = 0; i < nl.count; i++)
        o += (size_t)snprintf(joined + o, sizeof joined - o, "%s%s", i ? " " : "", nl.hosts[i]);
    if (strcmp(joined, expected)) {
        fprintf(stderr, "\"%s\" expanded to \"%s\", expected \"%s\"\n", spec, joined, expected);
        exit(1);
    }
    /* The first host and the count agree with the full expansion. */
    char first[256];
    size_t count = 0;
    CHECK_OK(tacl__nodelist_first(spec, first, sizeof first, &count));
    CHECK(!strcmp(first, nl.hosts[0]));
    CHECK(count == nl.count);
    tacl__nodelist_free(&nl);
    CHECK(nl.hosts == NULL && nl.count == 0);
}

/* Checks that spec is refused with TACL_ERR_INVALID and a message containing sub. */
static void nl_refuse(const char *spec, const char *sub)
{
    tacl__nodelist_t nl = {NULL, 12345};
    tacl_status_t st = tacl__nodelist_expand(spec, 0, &nl);
    if (st != TACL_ERR_INVALID) {
        fprintf(stderr, "\"%s\": expected TACL_ERR_INVALID, got %s\n", spec ? spec : "(null)",
                tacl_status_name(st));
        exit(1);
    }
    CHECK(nl.count == 12345); /* output untouched */
    CHECK_CONTAINS(tacl_last_error(), sub);
    char first[64] = "untouched";
    CHECK_ST(tacl__nodelist_first(spec, first, sizeof first, NULL), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), sub);
    CHECK(!strcmp(first, "untouched"));
}

static void tpn_expect(const char *spec, int node, int want)
{
    int got = -7;
    CHECK_OK(tacl__slurm_tasks_per_node(spec, node, &got));
    if (got != want) {
        fprintf(stderr, "tasks per node \"%s\" node %d: got %d, expected %d\n", spec, node, got,
                want);
        exit(1);
    }
}

static void tpn_refuse(const char *spec, int node, tacl_status_t want, const char *sub)
{
    int got = -7;
    CHECK_ST(tacl__slurm_tasks_per_node(spec, node, &got), want);
    CHECK(got == -7);
    CHECK_CONTAINS(tacl_last_error(), sub);
}

int main(void)
{
    /* Plain names, ranges, lists inside brackets, zero padding. */
    nl_expect("node1", "node1");
    nl_expect("a,b,c", "a b c");
    nl_expect("gpu[01-03,07]", "gpu01 gpu02 gpu03 gpu07");
    nl_expect("gpu[01-03,07],cpu5,node[1-2]-ib", "gpu01 gpu02 gpu03 gpu07 cpu5 node1-ib node2-ib");
    nl_expect("n[8-11]", "n8 n9 n10 n11");
    nl_expect("n[098-101]", "n098 n099 n100 n101");
    nl_expect("n[007]", "n007");
    nl_expect("h.example-1_x", "h.example-1_x");
    /* Several brackets multiply; the leftmost varies slowest. */
    nl_expect("rack[1-2]-n[01-02]", "rack1-n01 rack1-n02 rack2-n01 rack2-n02");
    nl_expect("r[1,3]s[5]x", "r1s5x r3s5x");
    nl_expect("[1-3]", "1 2 3");

    /* A huge list: first host and count without expanding it. */
    char first[64];
    size_t count = 0;
    CHECK_OK(tacl__nodelist_first("big[000001-500000],z", first, sizeof first, &count));
    CHECK(!strcmp(first, "big000001"));
    CHECK(count == 500001);
    tacl__nodelist_t nl = {NULL, 0};
    CHECK_ST(tacl__nodelist_expand("n[1-100]", 50, &nl), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "expands to more than 50 hosts");
    CHECK_OK(tacl__nodelist_expand("n[1-50]", 50, &nl));
    CHECK(nl.count == 50 && !strcmp(nl.hosts[49], "n50"));
    tacl__nodelist_free(&nl);
    CHECK_ST(tacl__nodelist_first("n[1-9][1-999999][1-999999]", first, sizeof first, NULL),
             TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "expands to more than 1000000 hosts");
    CHECK_ST(tacl__nodelist_first("averyveryverylongname[1-2]", first, 10, NULL), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "does not fit in 10 bytes");

    /* Malformed input: the message names what is wrong and where (1-based column). */
    nl_refuse("", "node list is empty");
    nl_refuse(NULL, "node list is empty");
    nl_refuse("gpu[01-03", "'[' is not closed at column 4");
    nl_refuse("gpu[01,", "'[' is not closed at column 4");
    nl_refuse("gpu[1-", "'[' is not closed at column 4");
    nl_refuse("gpu01]", "']' without a matching '[' at column 6");
    nl_refuse("gpu[[1]]", "nested '[' at column 5");
    nl_refuse("gpu[]", "empty range at column 5");
    nl_refuse("gpu[1,,2]", "empty range at column 7");
    nl_refuse("gpu[5-3]", "range 5-3 goes backwards at column 5");
    nl_refuse("gpu[a-b]", "expected a number, found 'a' at column 5");
    nl_refuse("gpu[1-x]", "expected a number, found 'x' at column 7");
    nl_refuse("gpu[1:3]", "expected ',' or ']' in the bracket, found ':' at column 6");
    nl_refuse("a,,b", "empty host name at column 3");
    nl_refuse(",a", "empty host name at column 1");
    nl_refuse("a,", "empty host name after the last ',' at column 3");
    nl_refuse("a b", "unexpected ' ' (host names use");
    nl_refuse("a\tb", "unexpected byte 0x09");
    nl_refuse("n[1234567890123456789]", "number too long at column 3");
    char longname[400];
    memset(longname, 'x', 300);
    longname[300] = '\0';
    nl_refuse(longname, "host names longer than 255 characters");

    /* Tasks per node. */
    tpn_expect("4", -1, 4);
    tpn_expect("4", 0, 4);
    tpn_refuse("4", 3, TACL_ERR_INVALID, "describes 1 nodes; node 3 is not one");
    tpn_expect("2(x3),1", 0, 2);
    tpn_expect("2(x3),1", 2, 2);
    tpn_expect("2(x3),1", 3, 1);
    tpn_expect("8(x2)", -1, 8);
    tpn_expect("1,5,2(x2)", 1, 5);
    tpn_expect("1,5,2(x2)", 3, 2);
    tpn_refuse("2(x3),1", 4, TACL_ERR_INVALID, "describes 4 nodes; node 4 is not one");
    tpn_refuse("2(x3),1", -1, TACL_ERR_NOT_FOUND, "different task counts (2 and 1)");
    tpn_refuse("", 0, TACL_ERR_INVALID, "tasks-per-node list is empty");
    tpn_refuse("2(x3", 0, TACL_ERR_INVALID, "expected ')' at column 5");
    tpn_refuse("2(3)", 0, TACL_ERR_INVALID, "expected 'x' after '(' at column 3");
    tpn_refuse("2,", 0, TACL_ERR_INVALID, "expected a number at column 3");
    tpn_refuse("two", 0, TACL_ERR_INVALID, "expected a number at column 1");
    tpn_refuse("0", 0, TACL_ERR_INVALID, "a count of 0 at column 1");
    tpn_refuse("2;3", 0, TACL_ERR_INVALID, "expected ',' or '(' at column 2");
    printf("nodelist: all cases passed\n");
    return 0;
}
