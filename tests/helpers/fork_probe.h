/* Runs PROBE in a forked child: for unit tests that change the process for good (confinement, identity, signal
 * handlers). Returns the child's exit status, or 200 + the number of the signal that killed it. */
#ifndef LURKER_TEST_FORK_PROBE_H
#define LURKER_TEST_FORK_PROBE_H

#include <criterion/criterion.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int in_child(int (*probe)(void))
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        _exit(probe());
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

#endif
