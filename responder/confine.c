#include "confine.h"

struct daemon_policy responder_policy(const char *user)
{
    return (struct daemon_policy){.user = user, .files = {.confine_reads = true}, .calls = SANDBOX_RESPONDER};
}
