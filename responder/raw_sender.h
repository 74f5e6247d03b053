/* Sending built IPv4/IPv6 packets through raw IP sockets (IP_HDRINCL; IPPROTO_RAW implies it for both families), in
 * batches with sendmmsg. The kernel routes each packet and resolves the next hop; the packets pass the qdisc, so the
 * capturer's own handle sees them (no PACKET_QDISC_BYPASS). */
#ifndef LURKER_RESPONDER_RAW_SENDER_H
#define LURKER_RESPONDER_RAW_SENDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "addr.h"
#include "packet_build.h"

#define SENDER_BATCH 64

/* What a queued packet is, so the counters say what was actually sent, not merely queued. */
enum packet_kind { PACKET_SYNACK, PACKET_BANNER, PACKET_ACK, PACKET_FIN, PACKET_KINDS };

struct sender_queue {
    int fd;
    unsigned count;
    uint8_t packets[SENDER_BATCH][PACKET_MAX];
    size_t lengths[SENDER_BATCH];
    uint8_t kinds[SENDER_BATCH];
    struct sockaddr_storage dests[SENDER_BATCH];
};

struct raw_sender {
    struct sender_queue v4, v6;   /* fd -1 when the family is not monitored */
    uint64_t sent[PACKET_KINDS];  /* totals by kind, read by the caller for its counters */
    uint64_t errors;
};

/* Opens the sockets for the families wanted (needs CAP_NET_RAW). Returns 0, or -1 with a message in err. */
int raw_sender_open(struct raw_sender *s, int want_v4, int want_v6, char *err, size_t errlen);
void raw_sender_close(struct raw_sender *s);

/* A slot for the next packet to DST (family of dst); NULL if that family has no socket. Flushes a full batch first. */
uint8_t *raw_sender_slot(struct raw_sender *s, const struct ip_addr *dst);
/* Commits the packet just built in the slot (len 0 discards it). */
void raw_sender_commit(struct raw_sender *s, const struct ip_addr *dst, size_t len, enum packet_kind kind);
/* Sends everything batched. */
void raw_sender_flush(struct raw_sender *s);

#endif
