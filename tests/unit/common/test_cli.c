/* The start-up path of every sensor process (cli_start), through a real exec of tests/helpers/cli_check:
 * --check prints a one-line summary and exits 0; a bad file prints FILE:LINE:COL and exits 2, starting nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct run {
    int status;
    char out[4096];
};

static struct run run_helper(const char *args)
{
    struct run r = {0};
    const char *build = getenv("BUILD");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/helpers/cli_check %s 2>&1", build ? build : "build", args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(r.out, 1, sizeof r.out - 1, p);
    r.out[n] = '\0';
    int status = pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(cli, check_good_file_prints_summary_and_exits_0)
{
    char path[] = "/tmp/lurker-cli-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "interface: veth0\naddresses: [203.0.113.10]\nresponder:\n  exclude_ports: [22]\n");
    char args[256];
    snprintf(args, sizeof args, "-c %s --check", path);
    struct run r = run_helper(args);
    cr_assert_eq(r.status, 0, "%s", r.out);
    char want[512];
    snprintf(want, sizeof want,
             "%s: OK: sensor sensor-1 on veth0 [203.0.113.10/32], 65535 ports answered, persona linux, flow_timeout "
             "60s, spool /var/spool/lurker, storage local /var/lib/lurker/archive, shm /lurker\n",
             path);
    cr_assert_str_eq(r.out, want);
    unlink(path);
}

Test(cli, check_bad_file_exits_2_with_position)
{
    char path[] = "/tmp/lurker-cli-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "interface: veth0\naddresses: [203.0.113.10]\ncapturer:\n  flow_timeout: -1\n");
    char args[256];
    snprintf(args, sizeof args, "-c %s --check", path);
    struct run r = run_helper(args);
    cr_assert_eq(r.status, 2);
    char want[512];
    snprintf(want, sizeof want,
             "%s:4:17: 'flow_timeout' must be a duration such as 60s, 10m or 1h, not '-1'\n", path);
    cr_assert_str_eq(r.out, want);
    /* without --check, the same file must not start anything either */
    snprintf(args, sizeof args, "-c %s", path);
    r = run_helper(args);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.out, "started") == NULL);
    unlink(path);
}

Test(cli, check_refuses_user_root_with_position)
{
    char path[] = "/tmp/lurker-cli-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "interface: veth0\naddresses: [203.0.113.10]\nuser: root\n");
    char args[256];
    snprintf(args, sizeof args, "-c %s --check", path);
    struct run r = run_helper(args);
    cr_assert_eq(r.status, 2, "%s", r.out);
    char want[512];
    snprintf(want, sizeof want,
             "%s:3:7: 'user' is 'root', which is uid 0: the processes would keep every privilege; name an "
             "unprivileged account such as lurker\n",
             path);
    cr_assert_str_eq(r.out, want);
    unlink(path);
}

Test(cli, good_file_starts)
{
    char path[] = "/tmp/lurker-cli-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "interface: veth9\naddresses: [2001:db8::1]\n");
    char args[256];
    snprintf(args, sizeof args, "-c %s", path);
    struct run r = run_helper(args);
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_assert_str_eq(r.out, "started veth9\n");
    unlink(path);
}

Test(cli, missing_file_and_bad_usage_exit_2)
{
    struct run r = run_helper("-c /nonexistent/lurker.yaml --check");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.out, "/nonexistent/lurker.yaml: cannot open: No such file or directory\n");
    r = run_helper("--bogus");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.out, "usage: lurker-test") != NULL, "%s", r.out);
}
