/* Who started a flow: only flows an outsider starts are recorded; the sensor host's own traffic over the monitored
 * address (its HTTP, S3 uploads, instance-metadata credentials, DNS, pings) never is. See README, "What is recorded".
 *
 * A flow's first packet decides, once, for the whole flow (the tracker keeps an "ignored" entry for a host-started
 * flow, so its later packets are ignored by one lookup):
 *   - TCP: a SYN in starts an outsider's flow, a SYN out (no ACK) the host's; a SYN+ACK out answers an outsider's SYN
 *     (its SYN was missed). A first packet mid-stream (no SYN: after a capturer restart, after the flow's entry was
 *     evicted, an ACK/FIN/NULL scan, backscatter) belongs to an outsider when it is an ACK carrying a valid SYN
 *     cookie of the responder, or when the monitored side's port is outside the host's ephemeral range
 *     (ip_local_port_range). On an ephemeral port it is taken as the host's: the host's own connections live there,
 *     and an outsider's stray segment to an ephemeral port is the price (a SYN to such a port is still recorded).
 *   - UDP, ICMP (echo and the other queries), other protocols, fragments: in first is an outsider's, out first the
 *     host's. (A UDP reply to the host's own query that arrives with no entry, i.e. right after a restart, is taken
 *     as an outsider's datagram.)
 * Judged packet by packet, never by an entry (they share no state with a flow):
 *   - ICMP errors (v4 unreachable, source quench, redirect, time exceeded, parameter problem; v6 unreachable, too
 *     big, time exceeded, parameter problem): one the host sends (its port unreachable for an outsider's datagram,
 *     in ingress mode) is the host's. One that comes in belongs to whoever sent the packet it quotes: a packet from
 *     outside, an outsider; a packet from the host, the host, unless that packet belongs to a flow being recorded
 *     (e.g. an unreachable about the responder's SYN+ACK to a spoofed source). One too short to quote a packet is
 *     an outsider's.
 *   - ICMPv6 neighbour discovery (router/neighbour solicitation and advertisement, redirect): link plumbing, never
 *     recorded (the capture filter already drops it in the kernel when no extension header hides it). */
#ifndef LURKER_CAPTURER_ORIGIN_H
#define LURKER_CAPTURER_ORIGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "tracker.h"

enum origin_verdict {
    ORIGIN_UNDECIDED,   /* not judged packet by packet: the flow's entry, or its first packet, decides */
    ORIGIN_OUTSIDER,    /* record */
    ORIGIN_HOST,        /* the host's own: not recorded */
};

/* ICMP errors and neighbour discovery: their verdict; everything else ORIGIN_UNDECIDED. data/p: the whole packet
 * as captured and decoded; inbound as tracker_flow_key says. */
enum origin_verdict origin_of_packet(const struct tracker *tr, const uint8_t *data, const struct decoded_packet *p,
                                     enum decode_result r, int inbound);

/* The first packet of a flow that has no entry (not an ICMP error or neighbour discovery). */
enum origin_verdict origin_of_first_packet(const struct tracker *tr, const struct decoded_packet *p,
                                           enum decode_result r, int inbound, const struct flow_key *key);

#endif
