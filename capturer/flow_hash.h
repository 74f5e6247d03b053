/* SipHash-1-3 with a random per-process key: flow keys come from attacker-chosen addresses and ports, so an unkeyed
 * hash would let a scanner put every flow into one bucket. */
#ifndef LURKER_CAPTURER_FLOW_HASH_H
#define LURKER_CAPTURER_FLOW_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t flow_hash(const uint8_t key[16], const void *data, size_t len);

#endif
