/* bootstrap_hostid.c — tacl_host_id: the live value against one computed here from the same
 * sources, a replayed machine under TACL_SYSFS_ROOT, the TACL_HOST_ID override, and errors
 * that name the file that could not be read. */
#include "check.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static char hid_root[256];

static void hid_cleanup(void)
{
    if (!hid_root[0]) return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", hid_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", hid_root);
}

static void hid_write(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", hid_root, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void hid_mkdirs(const char *rel)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s%s'", hid_root, rel);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    char id[512], want[512];
    unsetenv("TACL_HOST_ID");
    unsetenv("TACL_SYSFS_ROOT");

    /* Live: hostname + boot id + network namespace, each read here independently. */
    char host[256] = "", boot[64] = "", ns[64] = "";
    CHECK(gethostname(host, sizeof host) == 0);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) SKIP("no /proc/sys/kernel/random/boot_id here");
    CHECK(fgets(boot, sizeof boot, f) != NULL);
    fclose(f);
    boot[strcspn(boot, "\n")] = '\0';
    ssize_t n = readlink("/proc/self/ns/net", ns, sizeof ns - 1);
    CHECK(n > 6);
    ns[n] = '\0'; /* "net:[4026531840]" */
    ns[strlen(ns) - 1] = '\0';
    snprintf(want, sizeof want, "%s/%s/net:%s", host, boot, ns + 5);
    CHECK_OK(tacl_host_id(id, sizeof id));
    if (strcmp(id, want)) {
        fprintf(stderr, "host id \"%s\", expected \"%s\"\n", id, want);
        return 1;
    }
    /* Too small a buffer: an error naming the size needed, the buffer untouched. */
    char small[8] = "keep";
    CHECK_ST(tacl_host_id(small, sizeof small), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "the buffer has 8");
    CHECK(!strcmp(small, "keep"));
    CHECK_ST(tacl_host_id(NULL, 10), TACL_ERR_INVALID);

    /* Override. */
    setenv("TACL_HOST_ID", "rack3-node7", 1);
    CHECK_OK(tacl_host_id(id, sizeof id));
    CHECK(!strcmp(id, "rack3-node7"));
    CHECK_ST(tacl_host_id(small, sizeof small), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "\"rack3-node7\" needs 12 bytes, the buffer has 8");
    /* A long override is used whole, never cut. */
    char longid[700], got[1024];
    memset(longid, 'h', 600);
    longid[600] = '\0';
    setenv("TACL_HOST_ID", longid, 1);
    CHECK_OK(tacl_host_id(got, sizeof got));
    CHECK(!strcmp(got, longid));
    CHECK_ST(tacl_host_id(got, 600), TACL_ERR_INVALID);
    CHECK_CONTAINS(tacl_last_error(), "needs 601 bytes, the buffer has 600");
    unsetenv("TACL_HOST_ID");

    /* Replay a machine snapshot. */
    snprintf(hid_root, sizeof hid_root, "/tmp/tacl-hostid-%d", (int)getpid());
    atexit(hid_cleanup);
    hid_mkdirs("/proc/sys/kernel/random");
    hid_mkdirs("/proc/self/ns");
    hid_write("/proc/sys/kernel/hostname", "replayhost\n");
    hid_write("/proc/sys/kernel/random/boot_id", "01234567-89ab-cdef-0123-456789abcdef\n");
    char link[512];
    snprintf(link, sizeof link, "%s/proc/self/ns/net", hid_root);
    CHECK(symlink("net:[4026531999]", link) == 0);
    setenv("TACL_SYSFS_ROOT", hid_root, 1);
    CHECK_OK(tacl_host_id(id, sizeof id));
    CHECK(!strcmp(id, "replayhost/01234567-89ab-cdef-0123-456789abcdef/net:4026531999"));

    /* A link of another kind of namespace is refused, naming the file and what it held. */
    CHECK(unlink(link) == 0);
    CHECK(symlink("pipe:[77]", link) == 0);
    CHECK_ST(tacl_host_id(id, sizeof id), TACL_ERR_SYSTEM);
    CHECK_CONTAINS(tacl_last_error(), "/proc/self/ns/net links to \"pipe:[77]\"");
    CHECK(unlink(link) == 0);
    CHECK_ST(tacl_host_id(id, sizeof id), TACL_ERR_SYSTEM);
    CHECK_CONTAINS(tacl_last_error(), "cannot read the network namespace from");
    CHECK_CONTAINS(tacl_last_error(), hid_root);
    CHECK(symlink("net:[5]", link) == 0);

    /* Missing or empty files are named. */
    snprintf(want, sizeof want, "cannot read the boot id from %s/proc/sys/kernel/random/boot_id",
             hid_root);
    char boot_path[512];
    snprintf(boot_path, sizeof boot_path, "%s/proc/sys/kernel/random/boot_id", hid_root);
    CHECK(unlink(boot_path) == 0);
    CHECK_ST(tacl_host_id(id, sizeof id), TACL_ERR_SYSTEM);
    CHECK_CONTAINS(tacl_last_error(), want);
    CHECK_CONTAINS(tacl_last_error(), strerror(ENOENT));
    hid_write("/proc/sys/kernel/random/boot_id", "");
    CHECK_ST(tacl_host_id(id, sizeof id), TACL_ERR_SYSTEM);
    CHECK_CONTAINS(tacl_last_error(), "the boot id file");
    CHECK_CONTAINS(tacl_last_error(), "is empty");
    hid_write("/proc/sys/kernel/random/boot_id", "b00t");
    CHECK_OK(tacl_host_id(id, sizeof id));
    CHECK(!strcmp(id, "replayhost/b00t/net:5"));
    printf("host id: all cases passed\n");
    return 0;
}
