/* hostid_print.c — prints "rank R host H" for the network-namespace host-id test: the rank from
 * tacl_bootstrap_from_env, the host from tacl_host_id. */
#include "check.h"

int main(void)
{
    tacl_bootstrap_t b;
    char host[512];
    CHECK_OK(tacl_bootstrap_from_env(&b));
    CHECK_OK(tacl_host_id(host, sizeof host));
    printf("rank %d host %s\n", b.rank, host);
    return 0;
}
