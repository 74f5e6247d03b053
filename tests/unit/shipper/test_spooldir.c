/* shipper/spooldir: what the shipper takes from the spool (complete *.pcap regular files, never *.tmp, hidden
 * entries, symlinks or directories), reading whole files within a bound, removing and parking only safe names. The
 * spool is a directory a local user may write to: every refusal here is one. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../shipper/spooldir.h"

static char dir[64];
static struct spooldir sd;

static void put(const char *name, const char *body)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(body, f);
    fclose(f);
}

static bool present(const char *sub, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s%s", dir, sub, name);
    return access(path, F_OK) == 0;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lurker-unit-spooldir-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char err[256];
    cr_assert_eq(spooldir_open(&sd, dir, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    spooldir_close(&sd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(shipper_spooldir, .init = setup, .fini = teardown);

struct seen {
    char names[8][128];
    size_t n;
};

static void collect(const char *name, int64_t mtime, void *arg)
{
    struct seen *s = arg;
    cr_assert_gt(mtime, 0);
    cr_assert_lt(s->n, 8);
    snprintf(s->names[s->n++], sizeof s->names[0], "%s", name);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

Test(shipper_spooldir, open_makes_failed_and_refuses_a_missing_spool)
{
    struct stat st;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/failed", dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    struct spooldir other;
    snprintf(path, sizeof path, "%s/missing", dir);
    cr_assert_eq(spooldir_open(&other, path, err, sizeof err), -1);
    cr_assert(strstr(err, "missing") != NULL, "%s", err);
}

Test(shipper_spooldir, scan_takes_complete_regular_pcaps_only)
{
    put("a.pcap", "a");
    put("b.pcap", "b");
    put("c.pcap.tmp", "being written");
    put(".hidden.pcap", "h");
    put("notes.txt", "n");
    char path[256];
    snprintf(path, sizeof path, "%s/dir.pcap", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/link.pcap", dir);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    struct seen s = {.n = 0};
    cr_assert_eq(spooldir_scan(&sd, false, collect, &s), 2);
    qsort(s.names, s.n, sizeof s.names[0], by_name);
    cr_assert_str_eq(s.names[0], "a.pcap");
    cr_assert_str_eq(s.names[1], "b.pcap");
    struct seen again = {.n = 0};
    cr_assert_eq(spooldir_scan(&sd, false, collect, &again), 2, "a second scan starts from the top");
    struct seen parked = {.n = 0};
    cr_assert_eq(spooldir_scan(&sd, true, collect, &parked), 0);
}

Test(shipper_spooldir, names_with_a_slash_a_dot_or_no_pcap_suffix_are_refused)
{
    cr_assert(spooldir_name_ok("1_tcp_198.51.100.2_1_203.0.113.10_2.pcap"));
    cr_assert(spooldir_name_ok("renamed by hand.pcap"), "foreign names are the shipper's too (shipped as unparsed)");
    const char *bad[] = {"", ".pcap", ".x.pcap", "../x.pcap", "a/b.pcap", "x.pcap.tmp", "x.pcapx", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_not(spooldir_name_ok(bad[i]), "%s", bad[i]);
    char long_name[300];
    memset(long_name, 'a', sizeof long_name);
    memcpy(long_name + sizeof long_name - 6, ".pcap", 6);
    cr_assert_not(spooldir_name_ok(long_name));
    uint8_t *data;
    size_t len;
    errno = 0;
    cr_assert_eq(spooldir_read(&sd, "../x.pcap", false, &data, &len, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(spooldir_remove(&sd, "a/b.pcap", false), -1);
    cr_assert_eq(spooldir_park(&sd, ".x.pcap"), -1);
    cr_assert_not(spooldir_exists(&sd, "..", false));
}

Test(shipper_spooldir, read_is_whole_and_bounded)
{
    put("a.pcap", "0123456789");
    uint8_t *data;
    size_t len;
    int64_t mtime = 0;
    cr_assert_eq(spooldir_read(&sd, "a.pcap", false, &data, &len, &mtime), 0);
    cr_assert_eq(len, 10);
    cr_assert_eq(memcmp(data, "0123456789", 10), 0);
    cr_assert_gt(mtime, 0);
    free(data);
    errno = 0;
    cr_assert_eq(spooldir_read(&sd, "gone.pcap", false, &data, &len, NULL), -1);
    cr_assert_eq(errno, ENOENT, "gone: shipped already");
    char path[256];
    snprintf(path, sizeof path, "%s/huge.pcap", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    cr_assert_eq(ftruncate(fd, (off_t)SPOOL_FILE_MAX + 1), 0); /* sparse: no disk used */
    close(fd);
    errno = 0;
    cr_assert_eq(spooldir_read(&sd, "huge.pcap", false, &data, &len, NULL), -1);
    cr_assert_eq(errno, EFBIG);
    snprintf(path, sizeof path, "%s/link.pcap", dir);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    cr_assert_eq(spooldir_read(&sd, "link.pcap", false, &data, &len, NULL), -1, "a symlink is not followed");
    cr_assert_not(spooldir_exists(&sd, "link.pcap", false));
    cr_assert_null(data);
}

Test(shipper_spooldir, park_moves_into_failed_and_remove_deletes)
{
    put("a.pcap", "a");
    put("b.pcap", "b");
    cr_assert_eq(spooldir_park(&sd, "a.pcap"), 0);
    cr_assert_not(present("", "a.pcap"));
    cr_assert(present("failed/", "a.pcap"));
    cr_assert(spooldir_exists(&sd, "a.pcap", true));
    cr_assert_not(spooldir_exists(&sd, "a.pcap", false));
    uint8_t *data;
    size_t len;
    cr_assert_eq(spooldir_read(&sd, "a.pcap", true, &data, &len, NULL), 0);
    cr_assert_eq(len, 1);
    free(data);
    cr_assert_eq(spooldir_remove(&sd, "a.pcap", true), 0);
    cr_assert_not(present("failed/", "a.pcap"));
    cr_assert_eq(spooldir_remove(&sd, "b.pcap", false), 0);
    cr_assert_not(present("", "b.pcap"));
    cr_assert_eq(spooldir_remove(&sd, "b.pcap", false), 0, "already gone is not an error");
    cr_assert_eq(spooldir_park(&sd, "gone.pcap"), -1);
}
