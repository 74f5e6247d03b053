/* libFuzzer: arbitrary bytes as a captured packet through the capturer's decoder, for every link type the capturer
 * accepts (the first byte picks it), then through the flow key rules. Attackers control every byte of a packet:
 * nothing may read past caplen; the results must be self-consistent. */
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../capturer/decode.h"
#include "../../capturer/tracker.h"

static const int dlts[] = {DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int dlt = dlts[data[0] % (sizeof dlts / sizeof dlts[0])];
    /* a copy of exactly the packet's size, so ASan sees any read past caplen */
    uint8_t *pkt = malloc(size - 1 ? size - 1 : 1);
    if (pkt == NULL)
        return 0;
    memcpy(pkt, data + 1, size - 1);
    struct decoded_packet p;
    enum decode_result r = decode_packet(dlt, pkt, size - 1, &p);
    if (r != DECODE_OK && r != DECODE_PARTIAL && r != DECODE_NOT_IP)
        abort();
    if (r != DECODE_NOT_IP) {
        if (p.family != AF_INET && p.family != AF_INET6)
            abort();
        static struct prefix local[1];
        static int ready;
        if (!ready) {
            const char *why;
            prefix_parse("203.0.113.10", &local[0], &why);
            ready = 1;
        }
        struct tracker tr;
        memset(&tr, 0, sizeof tr);
        tr.local = local;
        tr.nlocal = 1;
        tr.dlt = dlt;
        struct flow_key key;
        int inbound;
        tracker_flow_key(&tr, &p, &key, &inbound);
        if (key.family != p.family || key.proto != p.proto || key.pad[0] || key.pad[1])
            abort();
    }
    free(pkt);
    return 0;
}
