#include "capture.h"

#include <stdio.h>

#include "addr.h"

static bool supported_link(int dlt)
{
    return dlt == DLT_EN10MB || dlt == DLT_RAW || dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2 || dlt == DLT_IPV4 ||
           dlt == DLT_IPV6;
}

static pcap_t *fail(pcap_t *p, char *err, size_t errlen, const char *what, const char *detail)
{
    snprintf(err, errlen, "%s: %s", what, detail);
    if (p)
        pcap_close(p);
    return NULL;
}

pcap_t *capture_open(const struct lurker_config *cfg, char *err, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(cfg->interface, pcap_err);
    if (p == NULL)
        return fail(NULL, err, errlen, "pcap_create", pcap_err);
    /* Block capture: the kernel hands over a full ring block, or what a block holds after CAPTURE_TIMEOUT_MS, per
     * wake-up. Immediate mode woke this process for every packet, on the responder's core, for work that may lag. */
    int ring = cfg->capturer.buffer_size > 0x7fffffff ? 0x7fffffff : (int)cfg->capturer.buffer_size;
    if (pcap_set_snaplen(p, (int)cfg->capturer.snaplen) != 0 || pcap_set_promisc(p, 0) != 0 ||
        pcap_set_immediate_mode(p, 0) != 0 || pcap_set_timeout(p, CAPTURE_TIMEOUT_MS) != 0 ||
        pcap_set_buffer_size(p, ring) != 0)
        return fail(p, err, errlen, "pcap settings", pcap_geterr(p));
    int rc = pcap_activate(p);
    if (rc < 0)
        return fail(p, err, errlen, cfg->interface, pcap_geterr(p));
    if (!supported_link(pcap_datalink(p)))
        return fail(p, err, errlen, "unsupported link type", pcap_datalink_val_to_name(pcap_datalink(p)));

    /* "net X" alone also matches ARP; only IP belongs in flows. ICMPv6 neighbour discovery (types 133-137, never
     * behind an extension header when well-formed) is the link's plumbing, not an outsider's flow: dropped here in
     * the kernel, the rest of the host's own traffic in origin.c. */
    char nets[2000], filter[2200];
    if (prefixes_bpf(cfg->addresses, cfg->naddresses, "", nets, sizeof nets) != 0)
        return fail(p, err, errlen, "filter", "too long");
    snprintf(filter, sizeof filter, "(ip or ip6) and %s and not (ip6 and ip6[6] == 58 and ip6[40] >= 133 and "
             "ip6[40] <= 137)", nets);
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0)
        return fail(p, err, errlen, "pcap_compile", pcap_geterr(p));
    rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc != 0)
        return fail(p, err, errlen, "pcap_setfilter", pcap_geterr(p));
    if (pcap_setnonblock(p, 1, pcap_err) != 0)
        return fail(p, err, errlen, "pcap_setnonblock", pcap_err);
    return p;
}

unsigned long long capture_kernel_drops(pcap_t *p)
{
    struct pcap_stat st;
    if (pcap_stats(p, &st) != 0)
        return 0;
    return st.ps_drop; /* ps_ifdrop is the interface's own rx_dropped (other protocols etc.), not ours */
}
