#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int privdrop(const char *user, char *err, size_t errlen)
{
    if (user == NULL || user[0] == '\0')
        return 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errlen, "user '%s' does not exist", user);
        return -1;
    }
    if (pw->pw_uid == 0) { /* config refuses it too; never "drop" to root whatever the caller passes */
        snprintf(err, errlen, "user '%s' is uid 0: refusing to run as root", user);
        return -1;
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
        snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) != 0) {
        snprintf(err, errlen, "setgroups: %s", strerror(errno));
        return -1;
    }
    if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0) {
        snprintf(err, errlen, "setresgid(%u): %s", (unsigned)pw->pw_gid, strerror(errno));
        return -1;
    }
    if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
        snprintf(err, errlen, "setresuid(%u): %s", (unsigned)pw->pw_uid, strerror(errno));
        return -1;
    }
    /* Prove it: regaining root must be impossible now. */
    if (setuid(0) == 0 || seteuid(0) == 0) {
        snprintf(err, errlen, "could regain uid 0 after dropping to '%s'", user);
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    return 0;
}
