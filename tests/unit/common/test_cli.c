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
    char path[32]; /* the configuration file's name */
};

static void run_helper(struct run *r, const char *args)
{
    const char *build = getenv("BUILD");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/helpers/cli_check %s 2>&1", build ? build : "build", args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(r->out, 1, sizeof r->out - 1, p);
    r->out[n] = '\0';
    int status = pclose(p);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs cli_check -c FILE FLAGS on a temporary FILE holding yaml. */
static struct run run_config(const char *yaml, const char *flags)
{
    struct run r = {.path = "/tmp/lurker-cli-XXXXXX"};
    int fd = mkstemp(r.path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    char args[256];
    snprintf(args, sizeof args, "-c %s %s", r.path, flags);
    run_helper(&r, args);
    unlink(r.path);
    return r;
}

/* The exit status, and the output: the file's name followed by after_path. */
static void expect(const struct run *r, int status, const char *after_path)
{
    cr_assert_eq(r->status, status, "%s", r->out);
    size_t n = strlen(r->path);
    cr_assert(strncmp(r->out, r->path, n) == 0, "%s", r->out);
    cr_assert_str_eq(r->out + n, after_path);
}

Test(cli, check_good_file_prints_summary_and_exits_0)
{
    struct run r = run_config("interface: veth0\naddresses: [203.0.113.10]\nresponder:\n  exclude_ports: [22]\n",
                              "--check");
    expect(&r, 0,
           ": OK: sensor sensor-1 on veth0 [203.0.113.10/32], 65535 ports answered, persona linux, flow_timeout "
           "60s, spool /var/spool/lurker, storage local /var/lib/lurker/archive, shm /lurker\n");
}

Test(cli, check_bad_file_exits_2_with_position)
{
    const char *yaml = "interface: veth0\naddresses: [203.0.113.10]\ncapturer:\n  flow_timeout: -1\n";
    struct run r = run_config(yaml, "--check");
    expect(&r, 2, ":4:17: 'flow_timeout' must be a duration such as 60s, 10m or 1h, not '-1'\n");
    /* without --check, the same file must not start anything either */
    r = run_config(yaml, "");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.out, "started") == NULL);
}

Test(cli, check_refuses_user_root_with_position)
{
    struct run r = run_config("interface: veth0\naddresses: [203.0.113.10]\nuser: root\n", "--check");
    expect(&r, 2,
           ":3:7: 'user' is 'root', which is uid 0: the processes would keep every privilege; name an "
           "unprivileged account such as lurker\n");
}

Test(cli, good_file_starts)
{
    struct run r = run_config("interface: veth9\naddresses: [2001:db8::1]\n", "");
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_assert_str_eq(r.out, "started veth9\n");
}

Test(cli, missing_file_and_bad_usage_exit_2)
{
    struct run r = {0};
    run_helper(&r, "-c /nonexistent/lurker.yaml --check");
    cr_assert_eq(r.status, 2);
    cr_assert_str_eq(r.out, "/nonexistent/lurker.yaml: cannot open: No such file or directory\n");
    run_helper(&r, "--bogus");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.out, "usage: lurker-test") != NULL, "%s", r.out);
}
