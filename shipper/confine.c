#include "confine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_creds.h"
#include "fsutil.h"
#include "http_ca.h"

/* What libcurl, OpenSSL and libc's resolver read at run time, where a distribution keeps it. A path this host
 * does not have gets no rule (a rule must name an existing file). */
static const char *const system_reads[] = {
    "/etc/ssl",                   /* CA certificates and openssl.cnf */
    "/etc/pki",                   /* the same on Amazon Linux, RHEL, Fedora */
    "/usr/share/ca-certificates", /* what /etc/ssl/certs links to */
    "/etc/resolv.conf",           /* name resolution */
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/localtime", /* the log's timestamps */
    "/dev/urandom",   /* OpenSSL's seed when getrandom() is not enough */
    "/usr/lib", /* NSS modules and other libraries loaded with dlopen (mapping them needs no execute right) */
    "/usr/lib64",
    "/lib",
    "/lib64",
};

#define SYSTEM_READS (sizeof system_reads / sizeof system_reads[0])

static size_t add_if_present(const char **list, size_t n, const char *path)
{
    if (path && path[0] && access(path, F_OK) == 0)
        list[n++] = path;
    return n;
}

/* As the user: what it cannot see gets no rule (a rule on a path the user cannot reach would fail). */
static int find_reads(void *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct shipper_policy *p = arg;
    size_t n = 0;
    /* An absent credentials file gets no rule: the provider chain skips it, as it does unconfined. A rule on a file
     * follows its inode, so the default ~/.aws/credentials gets its directory (AWS's own, which a tool may rewrite
     * by rename); a file named by AWS_SHARED_CREDENTIALS_FILE gets itself only, its directory may hold anything. */
    if (aws_creds_shared_file_path(p->credentials, sizeof p->credentials) == 0) {
        const char *named = getenv("AWS_SHARED_CREDENTIALS_FILE");
        char *slash = strrchr(p->credentials, '/');
        if (!(named && named[0]) && slash)
            *slash = '\0';
        n = add_if_present(p->readable, n, p->credentials);
    }
    n = add_if_present(p->readable, n, http_ca_bundle());
    for (size_t i = 0; i < SYSTEM_READS; i++)
        n = add_if_present(p->readable, n, system_reads[i]);
    p->daemon.files.nreadable = n;
    return 0;
}

/* The Prometheus file is replaced by rename: its directory is what is written. */
static const char *directory_of(const char *file, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else
        snprintf(dir, cap, "%s", slash ? "/" : ".");
    return dir;
}

int shipper_policy(struct shipper_policy *p, const struct lurker_config *cfg, char *err, size_t errlen)
{
    _Static_assert(SYSTEM_READS + 2 <= SHIPPER_READS_MAX, "room for every read");
    size_t n = 0;
    p->writable[n++] = cfg->spool.directory;
    if (cfg->shipper.storage == STORAGE_LOCAL)
        p->writable[n++] = cfg->shipper.archive_dir;
    if (cfg->shipper.prometheus_file[0])
        p->writable[n++] = directory_of(cfg->shipper.prometheus_file, p->prometheus_dir, sizeof p->prometheus_dir);
    /* One that cannot be made is a reason not to start: the rule would have to name a wider directory (up to "/"),
     * and that is not confinement. The files wait in the spool; supervisord retries the start until it is fixed. */
    bool root = geteuid() == 0;
    for (size_t i = 0; i < n; i++)
        if (dir_prepare(p->writable[i], root ? cfg->user : "", err, errlen) != 0)
            return -1;
    p->daemon = (struct daemon_policy){
        .user = root ? cfg->user : "", /* it needs no privilege: started as a user, it stays that user */
        .as_user = find_reads,
        .as_user_arg = p,
        .files = {.writable = p->writable, .nwritable = n, .readable = p->readable, .confine_reads = true},
        .calls = SANDBOX_SHIPPER,
    };
    return 0;
}
