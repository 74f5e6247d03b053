#include "confine.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_creds.h"
#include "http_ca.h"
#include "log.h"
#include "sandbox.h"

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

int shipper_confine(const char *const *writable, size_t nwritable, char *err, size_t errlen)
{
    static char credentials[512];
    const char *readable[SYSTEM_READS + 2];
    size_t n = 0;
    /* An absent credentials file gets no rule: the provider chain skips it, as it does unconfined. A rule on a file
     * follows its inode, so the default ~/.aws/credentials gets its directory (AWS's own, which a tool may rewrite
     * by rename); a file named by AWS_SHARED_CREDENTIALS_FILE gets itself only, its directory may hold anything. */
    if (aws_creds_shared_file_path(credentials, sizeof credentials) == 0) {
        const char *named = getenv("AWS_SHARED_CREDENTIALS_FILE");
        char *slash = strrchr(credentials, '/');
        if (!(named && named[0]) && slash)
            *slash = '\0';
        n = add_if_present(readable, n, credentials);
    }
    n = add_if_present(readable, n, http_ca_bundle());
    for (size_t i = 0; i < SYSTEM_READS; i++)
        n = add_if_present(readable, n, system_reads[i]);
    const struct sandbox_paths paths = {
        .writable = writable, .nwritable = nwritable, .readable = readable, .nreadable = n, .confine_reads = true};
    int rc = sandbox_restrict_paths(&paths, err, errlen);
    if (rc == 0)
        log_warn("event=landlock_unavailable reason=\"%s\"", err);
    if (rc < 0)
        return -1;
    return sandbox_apply(SANDBOX_SHIPPER, err, errlen);
}
