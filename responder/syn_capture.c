#include "syn_capture.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RESPONDER_SNAPLEN 256   /* headers and the start of a client's payload: enough to answer, never to store */
#define RESPONDER_BUFFER (16 << 20)
/* IPv6 with a Hop-by-Hop, Routing or Destination Options header first (a TCP segment may follow) */
#define IPV6_EXTENDED "(ip6 and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 60))"

static bool append(char *out, size_t outlen, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > outlen)
        return false;
    memcpy(out + *len, s, n + 1);
    *len += n;
    return true;
}

int syn_capture_filter(const struct lurker_config *cfg, enum syn_scope scope, char *out, size_t outlen)
{
    char dst[4096];
    if (prefixes_bpf(cfg->addresses, cfg->naddresses, "dst ", dst, sizeof dst) < 0)
        return -1;
    size_t len = 0;
    char syn_part[8192], ack_part[8192] = "";
    if (outlen)
        out[0] = '\0';
    /* SYN set, ACK clear; behind IPv6 extension headers the flags are not at a fixed offset: the decoder decides */
    static const char syns[] = "((ip and tcp and tcp[13] & 0x12 == 0x02) or "
                               "(ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x02) or " IPV6_EXTENDED ")";
    if (scope == SYNS_ALL)
        snprintf(syn_part, sizeof syn_part, "(%s and %s)", dst, syns);
    else /* Linux hands the tap a VLAN tag as metadata, which `vlan` tests; it must come last: libpcap's `vlan`
          * changes the offsets of everything after it */
        snprintf(syn_part, sizeof syn_part,
                 "(%s and %s and (ether[0] & 1 != 0 or (ip and (ip[0] & 0x0f != 5 or ip[6:2] & 0x3fff != 0)) or "
                 IPV6_EXTENDED " or vlan))", dst, syns);
    if (cfg->responder.ack_data) {
        /* ACK set, SYN clear: every later segment of a client (the ACK path needs the handshake's ACK too: it tells
         * where the client's data starts; FIN, RST+ACK). A scanner's bare RST (no ACK) stays out. */
        snprintf(ack_part, sizeof ack_part,
                 "(%s and ((ip and tcp and tcp[13] & 0x12 == 0x10) or "
                 "(ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x10) or " IPV6_EXTENDED "))",
                 dst);
    } else if (cfg->responder.nbanners > 0) {
        /* without ack_data, only banner ports: ACK set, SYN clear (the handshake's last step, data, FIN, RST+ACK) */
        char ports4[2048] = "", ports6[2048] = "";
        size_t l4 = 0, l6 = 0;
        for (size_t i = 0; i < cfg->responder.nbanners; i++) {
            char p[64];
            snprintf(p, sizeof p, "%stcp[2:2] == %u", i ? " or " : "", cfg->responder.banners[i].port);
            if (!append(ports4, sizeof ports4, &l4, p))
                return -1;
            snprintf(p, sizeof p, "%sip6[42:2] == %u", i ? " or " : "", cfg->responder.banners[i].port);
            if (!append(ports6, sizeof ports6, &l6, p))
                return -1;
        }
        snprintf(ack_part, sizeof ack_part,
                 "(%s and ((ip and tcp and tcp[13] & 0x12 == 0x10 and (%s)) or "
                 "(ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x10 and (%s)) or " IPV6_EXTENDED "))",
                 dst, ports4, ports6);
    }
    const char *first = scope == SYNS_ALL ? syn_part : ack_part, *second = scope == SYNS_ALL ? ack_part : syn_part;
    bool ok = append(out, outlen, &len, first) && (!first[0] || !second[0] || append(out, outlen, &len, " or ")) &&
              append(out, outlen, &len, second);
    return ok ? 0 : -1;
}

pcap_t *syn_capture_open(const struct lurker_config *cfg, enum syn_scope scope, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    char filter[16384];
    struct bpf_program prog;
    if (syn_capture_filter(cfg, scope, filter, sizeof filter) < 0) {
        snprintf(err, errlen, "BPF filter too long for the configured addresses and banner ports");
        return NULL;
    }
    pcap_t *p = pcap_create(cfg->interface, ebuf);
    if (!p) {
        snprintf(err, errlen, "pcap_create %s: %s", cfg->interface, ebuf);
        return NULL;
    }
    pcap_set_snaplen(p, RESPONDER_SNAPLEN);
    pcap_set_promisc(p, 0);
    pcap_set_immediate_mode(p, 1);
    pcap_set_buffer_size(p, RESPONDER_BUFFER);
    int rc = pcap_activate(p);
    if (rc < 0) {
        snprintf(err, errlen, "pcap_activate %s: %s", cfg->interface, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    /* only what arrives: our own SYN+ACKs never match, but a host-originated SYN to ourselves is not for us */
    pcap_setdirection(p, PCAP_D_IN);
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "pcap_compile: %s", pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        snprintf(err, errlen, "pcap_setfilter: %s", pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    if (pcap_setnonblock(p, 1, ebuf) < 0) {
        snprintf(err, errlen, "pcap_setnonblock: %s", ebuf);
        pcap_close(p);
        return NULL;
    }
    return p;
}
