/* Test helper: announces spool files to the shipper through the shared-memory queue, as the capturer does.
 *   shipper_enqueue SHM_NAME QUEUE_SLOTS FILE_NAME...
 * Each FILE_NAME has the capturer's layout (<first_us>_<proto>_<src>_<sport>_<dst>_<dport>.pcap); the record's
 * fields come from it. A name that does not parse is pushed with zero fields (the shipper must cope). Exit 0 when
 * every record was pushed, 1 on a full queue or an error. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shipper/flowmeta.h"
#include "shm.h"

static int parse_addr(const char *safe, uint8_t out[16], uint8_t *family)
{
    char text[FLOWMETA_ADDR_MAX];
    snprintf(text, sizeof text, "%s", safe);
    if (!strchr(text, '.')) {
        for (char *c = text; *c; c++)
            if (*c == '-')
                *c = ':';
        *family = AF_INET6;
        return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
    }
    *family = AF_INET;
    memset(out, 0, 16);
    out[10] = out[11] = 0xff;
    return inet_pton(AF_INET, text, out + 12) == 1 ? 0 : -1;
}

static uint8_t proto_number(const char *p)
{
    if (!strcmp(p, "tcp"))
        return IPPROTO_TCP;
    if (!strcmp(p, "udp"))
        return IPPROTO_UDP;
    if (!strcmp(p, "icmp"))
        return IPPROTO_ICMP;
    if (!strcmp(p, "icmp6"))
        return IPPROTO_ICMPV6;
    return (uint8_t)atoi(p + 1);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s SHM_NAME QUEUE_SLOTS FILE_NAME...\n", argv[0]);
        return 2;
    }
    struct shm_segment seg;
    char err[256];
    if (shm_attach(argv[1], (uint32_t)strtoul(argv[2], NULL, 10), &seg, err, sizeof err) < 0) {
        fprintf(stderr, "shm_attach: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (int i = 3; i < argc; i++) {
        struct queue_record rec;
        struct flow_meta m;
        memset(&rec, 0, sizeof rec);
        snprintf(rec.name, sizeof rec.name, "%s", argv[i]);
        rec.family = AF_INET;
        rec.proto = IPPROTO_TCP;
        if (flow_meta_from_name(argv[i], &m) == 0) {
            uint8_t fam2;
            rec.proto = proto_number(m.proto);
            rec.src_port = m.sport;
            rec.dst_port = m.dport;
            rec.first_us = rec.last_us = m.first_us;
            if (parse_addr(m.src, rec.src_addr, &rec.family) < 0 || parse_addr(m.dst, rec.dst_addr, &fam2) < 0)
                fprintf(stderr, "%s: addresses do not parse\n", argv[i]);
        }
        if (queue_push(seg.queue, &rec) != QUEUE_OK) {
            fprintf(stderr, "queue full at %s\n", argv[i]);
            rc = 1;
            break;
        }
    }
    shm_detach(&seg);
    return rc;
}
