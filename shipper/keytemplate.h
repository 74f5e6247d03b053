/* Object keys from lurker.yaml's shipper.key_template, e.g.
 * "pcap/{yyyy}/{mm}/{dd}/{hh}/{ts}.{us}_{proto}_{src}_{dst}_{sport}_{dport}.pcap" (UTC).
 * Fields: {sensor} {yyyy} {mm} {dd} {hh} (of the first packet) {ts} (its unix seconds) {us} (its microseconds,
 * six digits) {src} {dst} {sport} {dport} {proto}; for batches {seq} ("<pid>-<n>"), the flow fields empty. A key may
 * hold only [A-Za-z0-9-._/], must not start with '/', and has no empty, "." or ".." segment, so it is also a safe
 * relative path below the local archive directory. A flow whose spool name carries the capturer's "-N" duplicate
 * suffix gets "-N" before the key's ".pcap" too. */
#ifndef LURKER_SHIPPER_KEYTEMPLATE_H
#define LURKER_SHIPPER_KEYTEMPLATE_H

#include <stddef.h>

#include "flowid.h"

#define KEY_MAX 1024

/* Writes prefix + expanded template into out. Returns 0, or -1 with a reason in err (unknown field, bad
 * character, too long). */
int key_expand(const char *template, const char *prefix, const char *sensor, const struct spool_name *m, char *out,
               size_t outlen, char *err, size_t errlen);
/* The key of a spool file whose name is not the capturer's (spool_name_parse refused it; its bytes are never
 * parsed instead): prefix + "unparsed/" + sensor + "/" + the name, every byte outside [A-Za-z0-9.-] written as "_xx"
 * (hex), so two names never share a key. 0, or -1 when it does not fit or is not safe. */
int key_for_unparsed(const char *prefix, const char *sensor, const char *name, char *out, size_t outlen);
/* Whether a finished key follows the rules above. */
int key_is_safe(const char *key);

#endif
