/* A bounded SYN generator and SYN+ACK counter for the responder's tests and benchmark.
 *
 *   responder_synflood -i IFACE -d DST [-s SRC|-S PREFIX] [-n COUNT] [-r RATE] [-p PORT[-PORT]] [-w WAIT_MS]
 *
 * Sends COUNT SYNs (at most 10,000,000) at RATE per second (at most 5,000,000) through a raw IP socket, from SRC or,
 * with -S, from random addresses of PREFIX (an IPv4 /24 or an IPv6 /32..64: every SYN from a random /64 below it),
 * to DST on random ports of the range. Each SYN's sequence number is its index, so each SYN+ACK (ack = index + 1),
 * captured with libpcap on IFACE (a BPF filter picks the SYN+ACKs; nothing of the responder's code is used here to
 * build or read packets), is matched to its send time (latency = kernel capture timestamp of the SYN+ACK
 * minus the time just before the send call). Prints one JSON line: sent, answered (distinct SYNs
 * answered), duplicates, p50/p99/max latency in microseconds and the send duration. Runs in the attacker namespace. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "syn_packet.h"

#define MAX_COUNT 10000000u
#define MAX_RATE 5000000u

struct flood {
    const char *iface;
    struct ip_addr dst, src;
    struct prefix spoof;
    bool spoofing;
    uint32_t count, rate, wait_ms;
    uint16_t port_lo, port_hi;
    uint64_t *sent_ns;        /* per index; 0 = not sent */
    uint64_t *answer_ns;      /* per index; 0 = not answered */
    _Atomic uint64_t duplicates;
    _Atomic bool sending_done;
    uint64_t send_start, send_end;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Send and answer times are both CLOCK_REALTIME: answers carry the kernel's capture timestamp (nanoseconds), so a
 * late wake-up of the capture thread does not count as the responder's latency. */
static uint64_t realtime_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void random_source(struct flood *f, uint64_t *rng, struct ip_addr *out)
{
    *out = f->spoof.addr;
    uint64_t r = xorshift(rng);
    if (out->family == AF_INET) {
        out->bytes[15] = (uint8_t)(1 + r % 254);
        return;
    }
    /* random bits from the prefix length to /64, a random interface id */
    for (int bit = f->spoof.len; bit < 64; bit++)
        if ((r >> (bit & 63)) & 1)
            out->bytes[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
    uint64_t iid = xorshift(rng);
    memcpy(out->bytes + 8, &iid, 8);
}

#define SEND_BATCH 64

static void *sender(void *arg)
{
    struct flood *f = arg;
    int fd = socket(f->dst.family, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
        perror("raw socket");
        exit(1);
    }
    int big = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (f->dst.family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, ip_addr_v4(&f->dst), 4);
        sl = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, f->dst.bytes, 16);
        sl = sizeof *s6;
    }
    uint64_t rng = now_ns() | 1;
    static uint8_t pkts[SEND_BATCH][SYN_PACKET_MAX];
    struct mmsghdr msgs[SEND_BATCH];
    struct iovec iov[SEND_BATCH];
    f->send_start = now_ns();
    uint32_t i = 0;
    while (i < f->count) {
        /* everything due by now goes out in one sendmmsg (one packet when keeping up, a batch when behind) */
        uint64_t due = f->send_start + (uint64_t)i * 1000000000ULL / f->rate;
        uint64_t now = now_ns();
        /* sleep through long gaps (light rates), spin only the last stretch: a spinning generator would take a
         * whole core from what it measures */
        if (due > now + 200000) {
            uint64_t wake = due - 50000;
            struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000ULL), .tv_nsec = (long)(wake % 1000000000ULL)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
        while ((now = now_ns()) < due)
            ;
        unsigned n = 0;
        while (n < SEND_BATCH && i + n < f->count &&
               f->send_start + (uint64_t)(i + n) * 1000000000ULL / f->rate <= now) {
            struct ip_addr src = f->src;
            if (f->spoofing)
                random_source(f, &rng, &src);
            uint16_t span = (uint16_t)(f->port_hi - f->port_lo);
            uint16_t dport = (uint16_t)(f->port_lo + (span ? xorshift(&rng) % ((uint32_t)span + 1) : 0));
            /* a plain client SYN: MSS 1460 only, like nmap's */
            bool v6 = f->dst.family == AF_INET6;
            struct syn_spec syn = {.ipv6 = v6, .src = v6 ? src.bytes : ip_addr_v4(&src),
                                   .dst = v6 ? f->dst.bytes : ip_addr_v4(&f->dst),
                                   .sport = (uint16_t)(1024 + xorshift(&rng) % 60000), .dport = dport, .seq = i + n,
                                   .ip_id = (uint16_t)(i + n), .mss = 1460};
            iov[n].iov_base = pkts[n];
            iov[n].iov_len = syn_build(pkts[n], &syn);
            memset(&msgs[n], 0, sizeof msgs[n]);
            msgs[n].msg_hdr.msg_name = &ss;
            msgs[n].msg_hdr.msg_namelen = sl;
            msgs[n].msg_hdr.msg_iov = &iov[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
            n++;
        }
        unsigned done = 0;
        while (done < n) {
            /* stamped before the call: an answer may be captured before sendmmsg returns */
            uint64_t t = realtime_now_ns();
            for (unsigned k = done; k < n; k++)
                atomic_store_explicit((_Atomic uint64_t *)&f->sent_ns[i + k], t, memory_order_release);
            int sent = sendmmsg(fd, msgs + done, n - done, 0);
            if (sent < 0) {
                if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
                    perror("sendmmsg");
                    exit(1);
                }
                continue;
            }
            done += (unsigned)sent;
        }
        i += n;
    }
    f->send_end = now_ns();
    close(fd);
    atomic_store(&f->sending_done, true);
    return NULL;
}

/* SYN+ACKs only, whole TCP header at a fixed place: IPv6 without extension headers */
#define SYNACK_FILTER                                                                                              \
    "(ip and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)) or "                                           \
    "(ip6 and ip6[6] == 6 and ip6[40 + 13] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack))"

/* The acknowledgement number of a frame the filter passed (Ethernet: the test's veth), or -1. */
static int64_t synack_ack(const u_char *bytes, uint32_t caplen)
{
    if (caplen < 14 + 20)
        return -1;
    size_t tcp = bytes[12] == 0x86 && bytes[13] == 0xdd ? 14 + 40 : 14 + (size_t)(bytes[14] & 0x0f) * 4;
    if (caplen < tcp + 12)
        return -1;
    const u_char *a = bytes + tcp + 8;
    return (int64_t)((uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3]);
}

static void on_reply(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct flood *f = (struct flood *)user;
    uint64_t t = (uint64_t)h->ts.tv_sec * 1000000000ULL + (uint64_t)h->ts.tv_usec; /* nanosecond precision */
    int64_t ack = synack_ack(bytes, h->caplen);
    if (ack < 0)
        return;
    uint32_t idx = (uint32_t)ack - 1;
    if (idx >= f->count)
        return;
    uint64_t sent = atomic_load_explicit((_Atomic uint64_t *)&f->sent_ns[idx], memory_order_acquire);
    if (sent == 0)
        return;
    if (f->answer_ns[idx])
        atomic_fetch_add(&f->duplicates, 1);
    else
        f->answer_ns[idx] = t > sent ? t : sent + 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void parse_addr(const char *text, struct ip_addr *a)
{
    struct prefix p;
    const char *why;
    if (prefix_parse(text, &p, &why) < 0) {
        fprintf(stderr, "bad address %s: %s\n", text, why);
        exit(2);
    }
    *a = p.addr;
}

int main(int argc, char **argv)
{
    static struct flood f;
    f.count = 1000;
    f.rate = 1000;
    f.wait_ms = 1000;
    f.port_lo = 1;
    f.port_hi = 65535;
    const char *dst = NULL, *src = NULL, *spoof = NULL;
    int c;
    while ((c = getopt(argc, argv, "i:d:s:S:n:r:p:w:")) != -1) {
        switch (c) {
        case 'i': f.iface = optarg; break;
        case 'd': dst = optarg; break;
        case 's': src = optarg; break;
        case 'S': spoof = optarg; break;
        case 'n': f.count = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'r': f.rate = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'w': f.wait_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'p': {
            unsigned lo = 0, hi = 0;
            int n = sscanf(optarg, "%u-%u", &lo, &hi);
            f.port_lo = (uint16_t)lo;
            f.port_hi = (uint16_t)(n == 2 ? hi : lo);
            break;
        }
        default:
            fprintf(stderr, "usage: see the comment at the top of responder_synflood.c\n");
            return 2;
        }
    }
    if (!f.iface || !dst || (!src && !spoof) || f.count == 0 || f.count > MAX_COUNT || f.rate == 0 ||
        f.rate > MAX_RATE || f.wait_ms > 60000 || f.port_lo == 0 || f.port_hi < f.port_lo) {
        fprintf(stderr, "responder_synflood: need -i -d and -s or -S; count 1..%u, rate 1..%u, wait <= 60000\n",
                MAX_COUNT, MAX_RATE);
        return 2;
    }
    parse_addr(dst, &f.dst);
    if (spoof) {
        const char *why;
        if (prefix_parse(spoof, &f.spoof, &why) < 0) {
            fprintf(stderr, "bad prefix %s: %s\n", spoof, why);
            return 2;
        }
        f.spoofing = true;
    } else {
        parse_addr(src, &f.src);
    }
    f.sent_ns = calloc(f.count, sizeof *f.sent_ns);
    f.answer_ns = calloc(f.count, sizeof *f.answer_ns);
    if (!f.sent_ns || !f.answer_ns)
        return 1;

    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_create(f.iface, ebuf);
    if (!p)
        return fprintf(stderr, "pcap: %s\n", ebuf), 1;
    pcap_set_snaplen(p, 128);
    pcap_set_immediate_mode(p, 1);
    pcap_set_buffer_size(p, 64 << 20);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    if (pcap_activate(p) < 0)
        return fprintf(stderr, "pcap: %s\n", pcap_geterr(p)), 1;
    struct bpf_program prog;
    if (pcap_datalink(p) != DLT_EN10MB)
        return fprintf(stderr, "pcap: %s is not Ethernet\n", f.iface), 1;
    if (pcap_compile(p, &prog, SYNACK_FILTER, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(p, &prog) < 0)
        return fprintf(stderr, "filter: %s\n", pcap_geterr(p)), 1;
    pcap_freecode(&prog);
    pcap_setnonblock(p, 1, ebuf);

    pthread_t th;
    pthread_create(&th, NULL, sender, &f);
    uint64_t deadline = 0;
    for (;;) {
        int n = pcap_dispatch(p, 4096, on_reply, (u_char *)&f);
        if (atomic_load(&f.sending_done)) {
            if (!deadline)
                deadline = now_ns() + (uint64_t)f.wait_ms * 1000000ULL;
            if (now_ns() > deadline)
                break;
        }
        if (n == 0)
            usleep(50);
    }
    pthread_join(th, NULL);
    struct pcap_stat ps = {0};
    pcap_stats(p, &ps);
    pcap_close(p);

    uint64_t *lat = malloc(sizeof *lat * f.count);
    uint32_t answered = 0;
    for (uint32_t i = 0; i < f.count; i++)
        if (f.answer_ns[i])
            lat[answered++] = f.answer_ns[i] - f.sent_ns[i];
    qsort(lat, answered, sizeof *lat, cmp_u64);
    double secs = (double)(f.send_end - f.send_start) / 1e9;
    printf("{\"sent\": %u, \"answered\": %u, \"duplicates\": %llu, \"send_seconds\": %.3f, \"send_rate\": %.0f, "
           "\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, \"capture_drops\": %u}\n",
           f.count, answered, (unsigned long long)atomic_load(&f.duplicates), secs, f.count / (secs > 0 ? secs : 1),
           answered ? lat[answered / 2] / 1e3 : 0.0, answered ? lat[(uint64_t)answered * 99 / 100] / 1e3 : 0.0,
           answered ? lat[answered - 1] / 1e3 : 0.0, ps.ps_drop);
    free(lat);
    free(f.sent_ns);
    free(f.answer_ns);
    return 0;
}
