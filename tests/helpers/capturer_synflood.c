/* Test helper: sends COUNT TCP SYNs to DST:PORT, each from its own spoofed IPv4 source (SRC_BASE + i), paced at
 * RATE packets per second, through a raw IP socket. Bounded on purpose: at most 1,000,000 packets and 1,000,000 pps.
 * Run it only inside a network namespace a test created.
 *
 * usage: capturer_synflood DST PORT COUNT RATE SRC_BASE [SPORT]
 * Prints "sent N" when done. Exit 0 if every packet was handed to the kernel. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "syn_packet.h"

#define MAX_COUNT 1000000ul
#define MAX_RATE 1000000ul
#define BATCH 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: %s DST PORT COUNT RATE SRC_BASE [SPORT]\n", argv[0]);
        return 2;
    }
    struct in_addr dst, base;
    if (inet_pton(AF_INET, argv[1], &dst) != 1 || inet_pton(AF_INET, argv[5], &base) != 1) {
        fprintf(stderr, "bad address\n");
        return 2;
    }
    unsigned long port = strtoul(argv[2], NULL, 10), count = strtoul(argv[3], NULL, 10);
    unsigned long rate = strtoul(argv[4], NULL, 10), sport = argc == 7 ? strtoul(argv[6], NULL, 10) : 40000;
    if (port == 0 || port > 65535 || sport == 0 || sport > 65535 || count == 0 || count > MAX_COUNT || rate == 0 ||
        rate > MAX_RATE) {
        fprintf(stderr, "out of range: port 1..65535, count 1..%lu, rate 1..%lu\n", MAX_COUNT, MAX_RATE);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
    uint32_t base_host = ntohl(base.s_addr);
    double start = now_s();
    unsigned long sent = 0;
    while (sent < count) {
        double due = start + (double)sent / (double)rate;
        double wait = due - now_s();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
        /* one sendmmsg per batch: a syscall per packet would make the sender the bottleneck */
        uint8_t pkts[BATCH][SYN_PACKET_MAX];
        struct iovec iov[BATCH];
        struct mmsghdr msgs[BATCH];
        unsigned n = 0;
        for (; n < BATCH && sent + n < count; n++) {
            unsigned long i = sent + n;
            uint32_t src = htonl(base_host + (uint32_t)i);
            struct syn_spec syn = {.src = (const uint8_t *)&src, .dst = (const uint8_t *)&dst.s_addr,
                                   .sport = (uint16_t)sport, .dport = (uint16_t)port, .seq = (uint32_t)i * 2654435761u};
            iov[n] = (struct iovec){pkts[n], syn_build(pkts[n], &syn)};
            msgs[n] = (struct mmsghdr){.msg_hdr = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov[n],
                                                   .msg_iovlen = 1}};
        }
        unsigned done = 0;
        while (done < n) {
            int r = sendmmsg(fd, msgs + done, n - done, 0);
            if (r < 0) {
                if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
                    perror("sendmmsg");
                    return 1;
                }
                usleep(100);
                continue;
            }
            done += (unsigned)r;
        }
        sent += n;
    }
    close(fd);
    printf("sent %lu in %.3fs\n", sent, now_s() - start);
    return 0;
}
