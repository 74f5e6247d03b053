/* Keeping the kernel silent on the monitored addresses with nftables (see infra/nftables/lurker.nft).
 * The rules live in their own table, named after the instance, so lurker never touches anyone else's rules and two
 * instances never touch each other's. No rule uses connection tracking: one conntrack entry per SYN would fill the
 * table under a scan. Installation replaces a stale table of the same name atomically (one nft transaction). */
#ifndef LURKER_RESPONDER_FIREWALL_H
#define LURKER_RESPONDER_FIREWALL_H

#include <stddef.h>

#include "config.h"
#include "ephemeral_ports.h"

/* "lurker" for shm "/lurker", "lurker_test_ab12" for "/lurker-test-ab12": [A-Za-z0-9_] only. */
void firewall_table_name(const char *shm_name, char *out, size_t outlen);

/* The nft script that installs (replacing any stale copy) the rules of cfg->responder.firewall. Both modes keep the
 * host's own connections over the monitored address working (single-interface sensors: uploads, credentials,
 * metrics, DNS); ingress mode lets through the non-SYN segments to the host's ephemeral ports for that.
 * Returns the length written, or -1 if out is too small. FIREWALL_NONE yields an empty script. */
int firewall_install_script(const struct lurker_config *cfg, const char *table, struct port_range ephemeral,
                            char *out, size_t outlen);
/* The nft script that removes them. */
int firewall_remove_script(const struct lurker_config *cfg, const char *table, char *out, size_t outlen);

/* Runs `nft -f -` with SCRIPT on stdin. Returns 0, or -1 with nft's message in err. */
int firewall_apply(const char *script, char *err, size_t errlen);

#endif
