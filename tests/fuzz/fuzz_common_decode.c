/* libFuzzer: arbitrary bytes as a captured frame through the one packet decoder (common/decode.c), for every link
 * type it accepts (the first byte picks it). Attackers control every byte: nothing may be read past caplen (the frame
 * is a copy of exactly its size, so ASan sees any such read) and the result must be self-consistent. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "decode.h"
#include "pcapfile.h"

static const int linktypes[] = {DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL2,
                                DLT_NULL, DLT_LOOP, PCAPFILE_LINKTYPE_RAW};

static void check(const uint8_t *frame, size_t len, enum decode_result r, const struct decoded_packet *p)
{
    if (r != DECODE_OK && r != DECODE_PARTIAL && r != DECODE_NOT_IP)
        abort();
    if (r == DECODE_NOT_IP)
        return;
    if ((p->src.family != AF_INET && p->src.family != AF_INET6) || p->dst.family != p->src.family)
        abort();
    if ((size_t)p->l4off + p->l4len > len)
        abort();
    if (p->payload && (p->payload < frame + p->l4off || p->payload + p->payload_len > frame + p->l4off + p->l4len))
        abort();
    if (p->payload_len > p->payload_wire_len)
        abort();
    if (p->proto != IPPROTO_TCP && (p->tcp_flags || p->seq || p->tcp_opts.has_mss))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int linktype = linktypes[data[0] % (sizeof linktypes / sizeof linktypes[0])];
    uint8_t *frame = malloc(size - 1 ? size - 1 : 1);
    if (frame == NULL)
        return 0;
    memcpy(frame, data + 1, size - 1);
    struct decoded_packet p;
    check(frame, size - 1, decode_packet(linktype, frame, size - 1, &p), &p);
    free(frame);
    return 0;
}
