/* comm_destroyed.c — a call with a communicator after tacl_comm_destroy is a caller error that
 * tacl catches while the memory is not reused: TACL_ERR_INVALID naming it instead of a crash,
 * and a second destroy does nothing. Reading the freed handle is what the check does, so the
 * test cannot run under AddressSanitizer or ThreadSanitizer (they report exactly that read). */
#include "check.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CD_ASAN 1
#endif
#endif

int main(void)
{
#ifdef CD_ASAN
    SKIP("built with a sanitizer: the check reads a freed handle on purpose");
#endif
    tacl_comm_t *w;
    CHECK_OK(tacl_init(&w)); /* no launcher: a world of one with its own store */
    float x = 1;
    CHECK_OK(tacl_all_reduce(w, &x, &x, 1, TACL_FLOAT32, TACL_SUM));
    tacl_comm_destroy(w);
    CHECK_ST(tacl_all_reduce(w, &x, &x, 1, TACL_FLOAT32, TACL_SUM), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "not a live communicator (used after tacl_comm_destroy?)");
    CHECK_ST(tacl_barrier(w), TACL_ERR_INVALID);
    tacl_comm_t *sub = NULL;
    CHECK_ST(tacl_comm_split(w, 0, 0, &sub), TACL_ERR_INVALID);
    tacl_comm_destroy(w); /* a second destroy does nothing */
    printf("use after destroy: TACL_ERR_INVALID\n");
    return 0;
}
