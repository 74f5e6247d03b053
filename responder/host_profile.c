#include "host_profile.h"

#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

uint8_t linux_wscale_for(uint64_t tcp_rmem_max, uint64_t rmem_max)
{
    uint64_t space = tcp_rmem_max > rmem_max ? tcp_rmem_max : rmem_max;
    int log2 = 0;
    while (space >> (log2 + 1))
        log2++;
    int ws = log2 - 15;
    return (uint8_t)(ws < 0 ? 0 : ws > 14 ? 14 : ws);
}

static int interface_mtu(const char *ifname)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    int rc = ioctl(fd, SIOCGIFMTU, &ifr);
    close(fd);
    return rc < 0 ? -1 : ifr.ifr_mtu;
}

static uint64_t read_last_number(const char *path, uint64_t fallback)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return fallback;
    unsigned long long v, last = fallback;
    while (fscanf(f, "%llu", &v) == 1)
        last = v;
    fclose(f);
    return last;
}

void host_profile_read(const char *ifname, struct persona_host *host)
{
    int mtu = interface_mtu(ifname);
    if (mtu < 1280 || mtu > 65535)
        mtu = 1500;
    host->mss_v4 = (uint16_t)(mtu - 40);
    host->mss_v6 = (uint16_t)(mtu - 60);
    uint64_t tcp_rmem_max = read_last_number("/proc/sys/net/ipv4/tcp_rmem", 6291456);
    uint64_t rmem_max = read_last_number("/proc/sys/net/core/rmem_max", 212992);
    host->linux_wscale = linux_wscale_for(tcp_rmem_max, rmem_max);
}
