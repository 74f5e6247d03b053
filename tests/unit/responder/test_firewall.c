/* The nftables scripts: own table per instance, the right hook, excluded ports exempt, no conntrack. The live
 * install/remove is tested in test_responder_handshake.py. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../responder/firewall.h"
#include "../../../responder/syn_capture.h"

static const struct port_range eph = {32768, 60999};

static void config(struct lurker_config *cfg, const char *yaml)
{
    char err[CONFIG_ERR_MAX];
    config_defaults(cfg);
    cr_assert_eq(config_load_buffer("t.yaml", yaml, strlen(yaml), cfg, err, sizeof err), 0, "%s", err);
}

Test(responder_firewall, table_names_follow_the_instance)
{
    char name[64];
    firewall_table_name("/lurker", name, sizeof name);
    cr_assert_str_eq(name, "lurker");
    firewall_table_name("/lurker-test-ab12", name, sizeof name);
    cr_assert_str_eq(name, "lurker_test_ab12");
}

Test(responder_firewall, output_mode_drops_the_kernel_s_resets_and_port_unreachable_except_excluded)
{
    static struct lurker_config cfg;
    config(&cfg, "interface: veth0\naddresses: [203.0.113.10, \"2001:db8::/64\"]\nuser: \"\"\nkeep_identity: true\n"
                 "responder:\n  exclude_ports: [22, \"8000-8100\"]\n");
    char s[8192];
    cr_assert_gt(firewall_install_script(&cfg, "lurker", eph, s, sizeof s), 0);
    /* the whole script, deliberately: the host's own aborts (RST+ACK at a real sequence) are not matched */
    cr_assert_str_eq(s, "table inet lurker\ndelete table inet lurker\n"
                        "table inet lurker {\n  chain output {\n    type filter hook output priority 0; policy accept;\n"
                        "    ip saddr { 203.0.113.10/32 } tcp flags & (rst | ack) == rst tcp sport != { 22, 8000-8100 } drop\n"
                        "    ip saddr { 203.0.113.10/32 } tcp flags & (rst | ack) == rst | ack tcp sequence 0 tcp sport != { 22, 8000-8100 } drop\n"
                        "    ip saddr { 203.0.113.10/32 } icmp type destination-unreachable icmp code port-unreachable drop\n"
                        "    ip6 saddr { 2001:db8::/64 } tcp flags & (rst | ack) == rst tcp sport != { 22, 8000-8100 } drop\n"
                        "    ip6 saddr { 2001:db8::/64 } tcp flags & (rst | ack) == rst | ack tcp sequence 0 tcp sport != { 22, 8000-8100 } drop\n"
                        "    ip6 saddr { 2001:db8::/64 } icmpv6 type destination-unreachable icmpv6 code port-unreachable drop\n"
                        "  }\n}\n");
    cr_assert_null(strstr(s, "ct "), "no connection tracking: %s", s);
    cr_assert_gt(firewall_remove_script(&cfg, "lurker", s, sizeof s), 0);
    cr_assert_str_eq(s, "table inet lurker\ndelete table inet lurker\n");
}

Test(responder_firewall, ingress_mode_and_none)
{
    static struct lurker_config cfg;
    config(&cfg, "interface: veth0\naddresses: [203.0.113.10]\nuser: \"\"\nkeep_identity: true\nresponder:\n  firewall: ingress\n");
    char s[8192];
    cr_assert_gt(firewall_install_script(&cfg, "lk", eph, s, sizeof s), 0);
    cr_assert_not_null(strstr(s, "table netdev lk {\n  chain ingress {\n    type filter hook ingress device \"veth0\""));
    /* the host's own connections get their answers (never a bare SYN) on its ephemeral ports */
    cr_assert_str_eq(s, "table netdev lk\ndelete table netdev lk\n"
                        "table netdev lk {\n  chain ingress {\n    type filter hook ingress device \"veth0\" priority 0; policy accept;\n"
                        "    ip daddr { 203.0.113.10/32 } meta l4proto tcp tcp dport != 32768-60999 drop\n"
                        "    ip daddr { 203.0.113.10/32 } meta l4proto tcp tcp dport 32768-60999 tcp flags & (syn | ack) == syn drop\n"
                        "  }\n  chain egress {\n    type filter hook egress device \"veth0\" priority 0; policy accept;\n"
                        "    ip saddr { 203.0.113.10/32 } tcp flags & (rst | ack) == rst drop\n"
                        "  }\n}\n");
    cr_assert_eq(firewall_install_script(&cfg, "lk", eph, s, 10), -1);
    config(&cfg, "interface: veth0\naddresses: [203.0.113.10]\nuser: \"\"\nkeep_identity: true\nresponder:\n  firewall: none\n");
    cr_assert_eq(firewall_install_script(&cfg, "lk", eph, s, sizeof s), 0);
    cr_assert_str_eq(s, "");
}

#define FILTER_MAX 16384
/* a sensor on one IPv4 and one IPv6 address */
#define DUAL_STACK "interface: veth0\naddresses: [203.0.113.10, \"2001:db8::10\"]\nuser: \"\"\nkeep_identity: true\n"

/* The SYN capture filter of the configuration yaml (its text in f, FILTER_MAX bytes), compiled for Ethernet. */
static struct bpf_program compiled_filter(const char *yaml, enum syn_scope scope, char *f)
{
    static struct lurker_config cfg;
    config(&cfg, yaml);
    cr_assert_eq(syn_capture_filter(&cfg, scope, f, FILTER_MAX), 0);
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 256);
    struct bpf_program prog;
    cr_assert_eq(pcap_compile(dead, &prog, f, 1, PCAP_NETMASK_UNKNOWN), 0, "%s: %s", f, pcap_geterr(dead));
    pcap_close(dead);
    return prog;
}

Test(responder_firewall, bpf_filter_compiles_with_banner_ports)
{
    char f[FILTER_MAX];
    struct bpf_program prog = compiled_filter(DUAL_STACK "responder:\n  ack_data: false\n  banners:\n"
                                              "    - port: 2222\n      text: \"SSH-2.0-x\\r\\n\"\n"
                                              "    - port: 21\n      text: \"220 hi\\r\\n\"\n", SYNS_ALL, f);
    cr_assert_not_null(strstr(f, "tcp[2:2] == 2222 or tcp[2:2] == 21"), "%s", f);
    pcap_freecode(&prog);
}

/* One Ethernet frame carrying a TCP SYN to 203.0.113.10: IPv4 header of ihl words (options NOPs), optional MF flag,
 * destination MAC broadcast or unicast. */
static size_t syn_frame(uint8_t *f, int ihl, bool more_fragments, bool broadcast)
{
    size_t o = 0;
    memset(f, 0, 128);
    memset(f, broadcast ? 0xff : 0x02, 6);
    f[6] = 0x02;
    o = 12;
    f[o++] = 0x08, f[o++] = 0x00;
    uint8_t *ip = f + o;
    ip[0] = (uint8_t)(0x40 | ihl);
    ip[3] = (uint8_t)(ihl * 4 + 20);
    ip[6] = more_fragments ? 0x20 : 0x40;
    ip[8] = 64, ip[9] = 6;
    ip[12] = 198, ip[13] = 51, ip[14] = 100, ip[15] = 2;
    ip[16] = 203, ip[17] = 0, ip[18] = 113, ip[19] = 10;
    for (int i = 20; i < ihl * 4; i++)
        ip[i] = 1;
    uint8_t *tcp = ip + ihl * 4;
    tcp[0] = 0x9c, tcp[1] = 0x40, tcp[2] = 0x00, tcp[3] = 80;
    tcp[12] = 0x50, tcp[13] = 0x02;
    return o + (size_t)ihl * 4 + 20;
}

/* With the tc engine the packet tap still sees every SYN (before tc): user space must take exactly those the program
 * leaves to it, and no plain SYN, which the program has answered already. (A VLAN tag reaches a Linux tap as metadata,
 * which an offline filter cannot carry: test_responder_engines.py sends a tagged SYN through the kernel.) */
Test(responder_firewall, tc_scope_filter_takes_only_what_the_program_leaves)
{
    char f[FILTER_MAX];
    struct bpf_program prog = compiled_filter(DUAL_STACK, SYNS_TC_LEAVES, f);
    struct {
        int ihl;
        bool mf, broadcast, taken;
    } cases[] = {
        {5, false, false, false}, /* plain: the program answers it */
        {6, false, false, true},  /* IP options */
        {5, true, false, true},   /* first fragment */
        {5, false, true, true},   /* broadcast MAC: not PACKET_HOST */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t frame[128];
        struct pcap_pkthdr h = {.caplen = 0};
        h.caplen = h.len = (bpf_u_int32)syn_frame(frame, cases[i].ihl, cases[i].mf, cases[i].broadcast);
        cr_assert_eq(pcap_offline_filter(&prog, &h, frame) != 0, cases[i].taken, "case %zu", i);
    }
    pcap_freecode(&prog);
}

/* One Ethernet + IPv4/IPv6 + TCP frame with the given flags and payload length, as the kernel filter sees it. */
static size_t frame(uint8_t *f, bool v6, uint8_t flags, size_t payload)
{
    memset(f, 0, 200);
    size_t ip_len = v6 ? 40 : 20, tcp_off = 14 + ip_len;
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xdd : 0x00;
    uint8_t *ip = f + 14;
    if (v6) {
        ip[0] = 0x60;
        ip[4] = 0;
        ip[5] = (uint8_t)(20 + payload);
        ip[6] = 6;
        ip[7] = 64;
        ip[8] = 0x20, ip[9] = 0x01, ip[10] = 0x0d, ip[11] = 0xb8, ip[23] = 2;                  /* 2001:db8::2 */
        ip[24] = 0x20, ip[25] = 0x01, ip[26] = 0x0d, ip[27] = 0xb8, ip[39] = 0x10;             /* 2001:db8::10 */
    } else {
        ip[0] = 0x45;
        ip[3] = (uint8_t)(20 + 20 + payload);
        ip[8] = 64;
        ip[9] = 6;
        ip[12] = 198, ip[13] = 51, ip[14] = 100, ip[15] = 2;
        ip[16] = 203, ip[17] = 0, ip[18] = 113, ip[19] = 10;
    }
    uint8_t *tcp = f + tcp_off;
    tcp[0] = 0x9c, tcp[1] = 0x40; /* 40000 */
    tcp[2] = 0x1f, tcp[3] = 0x90; /* 8080 */
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    return tcp_off + 20 + payload;
}

static bool passes(const struct bpf_program *prog, bool v6, uint8_t flags, size_t payload)
{
    uint8_t f[200];
    struct pcap_pkthdr h = {.caplen = (bpf_u_int32)frame(f, v6, flags, payload)};
    h.len = h.caplen;
    return pcap_offline_filter(prog, &h, f) != 0;
}

Test(responder_firewall, bpf_filter_passes_syns_and_the_clients_later_segments)
{
    char f[FILTER_MAX];
    struct bpf_program prog = compiled_filter(DUAL_STACK, SYNS_ALL, f);
    for (int v6 = 0; v6 < 2; v6++) {
        cr_assert(passes(&prog, v6, 0x02, 0), "SYN (v6=%d)", v6);
        cr_assert(passes(&prog, v6, 0x10, 0), "the handshake's ACK");
        cr_assert(passes(&prog, v6, 0x18, 100), "data");
        cr_assert(passes(&prog, v6, 0x11, 0), "FIN");
        cr_assert(passes(&prog, v6, 0x14, 0), "RST+ACK");
        cr_assert_not(passes(&prog, v6, 0x12, 0), "SYN+ACK");
        cr_assert_not(passes(&prog, v6, 0x04, 0), "a scanner's bare RST");
        cr_assert_not(passes(&prog, v6, 0x01, 0), "a FIN scan (no ACK)");
    }
    pcap_freecode(&prog);
    /* ack_data off: SYNs only (no banner ports here) */
    prog = compiled_filter(DUAL_STACK "responder:\n  ack_data: false\n", SYNS_ALL, f);
    cr_assert(passes(&prog, false, 0x02, 0));
    cr_assert_not(passes(&prog, false, 0x18, 100));
    cr_assert_not(passes(&prog, true, 0x10, 0));
    pcap_freecode(&prog);
}
