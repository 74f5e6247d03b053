/* What the responder puts on the wire, read back by an independent dissector: each persona's SYN+ACK (IPv4 and IPv6,
 * for the option sets clients offer) and its segment after the handshake are built with persona_synack or
 * persona_established and packet_build, written to a pcap with libpcap's own dumper and dissected by tshark with
 * checksum validation on. The expected values are responder/PERSONAS.md's table (MTU 1500, the host's window scale
 * 7), not the code's output. */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../../responder/packet_build.h"
#include "../../../responder/persona.h"

#define SYN_ACK 0x12
#define PSH_ACK 0x18
#define TS_NOW 0x01020304u
#define CLIENT_TSVAL 123456u

static const struct persona_host HOST = {.mss_v4 = 1460, .mss_v6 = 1440, .linux_wscale = 7};

struct wire_case {
    enum persona persona;
    bool ipv6;
    bool sack, ts, ws;         /* what the SYN offered (always an MSS) */
    const char *want;          /* tshark's fields, see TSHARK_FIELDS */
};

/* ttl|hop limit, df, ip id, flow label, sport, dport, seq, ack, flags, window, option kinds in order, mss, wscale,
 * tsval, tsecr, tcp length, payload, IPv4 header checksum status, TCP checksum status (1: good). */
#define TSHARK_FIELDS                                                                                              \
    "-e ip.ttl -e ipv6.hlim -e ip.flags.df -e ip.id -e ipv6.flow -e tcp.srcport -e tcp.dstport -e tcp.seq_raw "     \
    "-e tcp.ack_raw -e tcp.flags -e tcp.window_size_value -e tcp.option_kind -e tcp.options.mss_val "              \
    "-e tcp.options.wscale.shift -e tcp.options.timestamp.tsval -e tcp.options.timestamp.tsecr -e tcp.len "        \
    "-e tcp.payload -e ip.checksum.status -e tcp.checksum.status"

static const struct wire_case CASES[] = {
    /* all offered: linux mss,sackOK,ts,nop,ws; freebsd mss,nop,ws,sackOK,ts; windows mss,nop,ws,nop,nop,sackOK */
    {PERSONA_LINUX, false, true, true, true,
     "64||1|0x0000||22|40000|3735928559|1001|0x0012|65160|2,4,8,1,3|1460|7|16909060|123456|0||1|1"},
    {PERSONA_LINUX, true, true, true, true,
     "|64|||0x054321|22|40000|3735928559|1001|0x0012|64260|2,4,8,1,3|1440|7|16909060|123456|0|||1"},
    {PERSONA_FREEBSD, false, true, true, true,
     "64||1|0x0000||22|40000|3735928559|1001|0x0012|65535|2,1,3,4,8|1460|6|16909060|123456|0||1|1"},
    {PERSONA_WINDOWS, false, true, true, true,
     "128||1|0x1234||22|40000|3735928559|1001|0x0012|65535|2,1,3,1,1,4|1460|8|||0||1|1"},
    {PERSONA_WINDOWS, true, true, true, true,
     "|128|||0x000000|22|40000|3735928559|1001|0x0012|65535|2,1,3,1,1,4|1440|8|||0|||1"},
    /* MSS only (nmap -sS): MSS alone from all three */
    {PERSONA_LINUX, false, false, false, false,
     "64||1|0x0000||22|40000|3735928559|1001|0x0012|64240|2|1460||||0||1|1"},
    {PERSONA_FREEBSD, true, false, false, false,
     "|64|||0x000000|22|40000|3735928559|1001|0x0012|65535|2|1440||||0|||1"},
    /* no timestamps, SACK + WS: linux mss,nop,nop,sackOK,nop,ws; freebsd mss,nop,ws,sackOK,eol,eol */
    {PERSONA_LINUX, true, true, false, true,
     "|64|||0x054321|22|40000|3735928559|1001|0x0012|64800|2,1,1,4,1,3|1440|7|||0|||1"},
    {PERSONA_FREEBSD, false, true, false, true,
     "64||1|0x0000||22|40000|3735928559|1001|0x0012|65535|2,1,3,4,0,0|1460|6|||0||1|1"},
    /* timestamps only: linux and freebsd mss,nop,nop,ts; windows mss */
    {PERSONA_LINUX, false, false, true, false,
     "64||1|0x0000||22|40000|3735928559|1001|0x0012|65160|2,1,1,8|1460||16909060|123456|0||1|1"},
    {PERSONA_FREEBSD, true, false, true, false,
     "|64|||0x000000|22|40000|3735928559|1001|0x0012|65535|2,1,1,8|1440||16909060|123456|0|||1"},
    {PERSONA_WINDOWS, false, false, true, false,
     "128||1|0x1234||22|40000|3735928559|1001|0x0012|65535|2|1460||||0||1|1"},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

/* after the SYN+ACKs, a segment after the handshake (a banner) to a client that sends timestamps, with an odd-length
 * payload (the checksum's odd trailing byte): the window is linux's SYN+ACK window >> its scale, freebsd 1027, windows
 * 1026; timestamps echoed (nop,nop,ts) but by windows */
static const struct wire_case ESTABLISHED[] = {
    {PERSONA_LINUX, false, .want = "64||1|0x0000||22|40000|3735928560|1001|0x0018|509|1,1,8|||16909060|123456|5|"
                                   "68656c6c6f|1|1"},
    {PERSONA_FREEBSD, true, .want = "|64|||0x000000|22|40000|3735928560|1001|0x0018|1027|1,1,8|||16909060|123456|5|"
                                    "68656c6c6f||1"},
    {PERSONA_WINDOWS, false, .want = "128||1|0x1234||22|40000|3735928560|1001|0x0018|1026||||||5|68656c6c6f|1|1"},
};
#define NESTABLISHED (sizeof ESTABLISHED / sizeof ESTABLISHED[0])

static void addresses(bool ipv6, struct ip_addr *sensor, struct ip_addr *client)
{
    if (ipv6) {
        ip_addr_from_v6(sensor, (const uint8_t[]){0x20, 1, 0xd, 0xb8, 0, 5, [15] = 0x10});
        ip_addr_from_v6(client, (const uint8_t[]){0x20, 1, 0xd, 0xb8, 0, 0xa, [15] = 2});
    } else {
        ip_addr_from_v4(sensor, (const uint8_t[]){203, 0, 113, 10});
        ip_addr_from_v4(client, (const uint8_t[]){198, 51, 100, 2});
    }
}

static void dump(pcap_dumper_t *d, const struct tcp_reply *r)
{
    uint8_t pkt[PACKET_MAX];
    size_t len = packet_build(r, pkt, sizeof pkt);
    cr_assert_gt(len, 0);
    struct pcap_pkthdr h = {.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len};
    pcap_dump((u_char *)d, &h, pkt);
}

static void write_replies(const char *path)
{
    pcap_t *dead = pcap_open_dead(DLT_RAW, 65535);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    cr_assert_not_null(d, "%s", pcap_geterr(dead));
    for (size_t i = 0; i < NCASES; i++) {
        const struct wire_case *c = &CASES[i];
        struct tcp_options offer = {.has_mss = true, .mss = 1460, .sack_permitted = c->sack, .has_timestamp = c->ts,
                                    .ts_val = CLIENT_TSVAL, .has_wscale = c->ws, .wscale = 7};
        struct tcp_shape shape;
        persona_synack(c->persona, &HOST, c->ipv6, &offer, TS_NOW, &shape);
        struct ip_addr sensor, client;
        addresses(c->ipv6, &sensor, &client);
        struct tcp_reply r = {.src = &sensor, .dst = &client, .sport = 22, .dport = 40000, .seq = 0xdeadbeef,
                              .ack = 1001, .flags = SYN_ACK, .ip_id = 0x1234,
                              .flow_label = c->persona == PERSONA_LINUX ? 0x54321 : 0, .shape = &shape};
        dump(d, &r);
    }
    for (size_t i = 0; i < NESTABLISHED; i++) {
        const struct wire_case *c = &ESTABLISHED[i];
        struct tcp_options client_ts = {.has_timestamp = true, .ts_val = CLIENT_TSVAL};
        struct tcp_shape shape;
        persona_established(c->persona, &HOST, c->ipv6, &client_ts, TS_NOW, &shape);
        struct ip_addr sensor, client;
        addresses(c->ipv6, &sensor, &client);
        struct tcp_reply r = {.src = &sensor, .dst = &client, .sport = 22, .dport = 40000, .seq = 0xdeadbef0,
                              .ack = 1001, .flags = PSH_ACK, .ip_id = 0x1234, .shape = &shape,
                              .payload = (const uint8_t *)"hello", .payload_len = 5};
        dump(d, &r);
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

Test(responder_packet_build, tshark_reads_each_persona_reply_as_documented)
{
    char path[] = "/tmp/lurker-packet-build-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_replies(path);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "tshark -n -r %s -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE"
             " -o tcp.relative_sequence_numbers:FALSE -T fields -E separator='|' -E aggregator=, " TSHARK_FIELDS
             " 2>/dev/null",
             path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[512];
    size_t row = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        const char *want = row < NCASES                  ? CASES[row].want
                           : row < NCASES + NESTABLISHED ? ESTABLISHED[row - NCASES].want
                                                         : "";
        cr_expect_str_eq(line, want, "packet %zu\n got %s\nwant %s", row + 1, line, want);
        row++;
    }
    cr_assert_eq(pclose(p), 0, "tshark failed");
    unlink(path);
    cr_assert_eq(row, NCASES + NESTABLISHED, "tshark read %zu packets", row);
}

Test(responder_packet_build, refuses_what_does_not_fit)
{
    struct ip_addr a;
    ip_addr_from_v4(&a, (const uint8_t[]){1, 2, 3, 4});
    struct tcp_shape shape = {.ttl = 64, .options_len = 0};
    uint8_t big[2000] = {0}, out[100];
    struct tcp_reply r = {.src = &a, .dst = &a, .shape = &shape, .payload = big, .payload_len = sizeof big};
    cr_assert_eq(packet_build(&r, out, sizeof out), 0);
    shape.options_len = 3; /* options come in 32-bit words */
    r.payload_len = 0;
    cr_assert_eq(packet_build(&r, out, sizeof out), 0);
}
