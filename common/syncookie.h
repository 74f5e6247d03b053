/* Stateless SYN cookies shared by the responder (which chooses the ISN of every SYN+ACK) and the capturer (which
 * tells a completed handshake, client ACK == ISN + 1, from a spoofed SYN without keeping state).
 *
 * ISN = low 32 bits of SipHash-2-4(key, src[16] | dst[16] | sport | dport | coarse_time), ports big-endian,
 * coarse_time little-endian 32-bit. The coarse clock ticks every SYNCOOKIE_SLOT_SECONDS of unix time, so an ISN
 * changes over time for the same tuple; an ACK is accepted for the current and the previous slot (a handshake that
 * straddles a tick still validates). The key is random per responder start (shared memory), so two starts give
 * unrelated ISNs. */
#ifndef LURKER_SYNCOOKIE_H
#define LURKER_SYNCOOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "siphash.h"

#define SYNCOOKIE_KEY_BYTES 16
#define SYNCOOKIE_SLOT_SECONDS 64


/* The coarse clock for a unix time in seconds, and for now (CLOCK_REALTIME). */
uint32_t syncookie_coarse(uint64_t unix_seconds);
uint32_t syncookie_coarse_now(void);

/* src/dst as seen on the client's SYN: src = client, dst = monitored address; ports likewise. */
uint32_t syncookie_isn(const uint8_t key[SYNCOOKIE_KEY_BYTES], const struct ip_addr *src, const struct ip_addr *dst,
                       uint16_t sport, uint16_t dport, uint32_t coarse_time);

/* Whether ACK (the client's acknowledgement number) is ISN + 1 for now_coarse or the slot before it. */
bool syncookie_ack_valid(const uint8_t key[SYNCOOKIE_KEY_BYTES], const struct ip_addr *src, const struct ip_addr *dst,
                         uint16_t sport, uint16_t dport, uint32_t ack, uint32_t now_coarse);

/* The same check after the handshake, when the client may also have acknowledged up to `extra` bytes we sent past
 * the SYN+ACK (a banner, a FIN): true when ACK - 1 - ISN is 0..extra for the ISN of now_coarse or of the slot before;
 * then *isn is that ISN. */
bool syncookie_ack_isn(const uint8_t key[SYNCOOKIE_KEY_BYTES], const struct ip_addr *src, const struct ip_addr *dst,
                       uint16_t sport, uint16_t dport, uint32_t ack, uint32_t extra, uint32_t now_coarse,
                       uint32_t *isn);

#endif
