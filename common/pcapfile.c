#include "pcapfile.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/uio.h>

void pcapfile_global_header(uint8_t out[PCAPFILE_GLOBAL_HEADER_LEN], uint32_t linktype, uint32_t snaplen)
{
    uint32_t magic = PCAPFILE_MAGIC_US;
    uint16_t major = 2, minor = 4;
    int32_t thiszone = 0;
    uint32_t sigfigs = 0;
    memcpy(out, &magic, 4);
    memcpy(out + 4, &major, 2);
    memcpy(out + 6, &minor, 2);
    memcpy(out + 8, &thiszone, 4);
    memcpy(out + 12, &sigfigs, 4);
    memcpy(out + 16, &snaplen, 4);
    memcpy(out + 20, &linktype, 4);
}

void pcapfile_record_header(uint8_t out[PCAPFILE_RECORD_HEADER_LEN], uint64_t ts_us, uint32_t caplen, uint32_t len)
{
    uint32_t sec = (uint32_t)(ts_us / 1000000u), usec = (uint32_t)(ts_us % 1000000u);
    memcpy(out, &sec, 4);
    memcpy(out + 4, &usec, 4);
    memcpy(out + 8, &caplen, 4);
    memcpy(out + 12, &len, 4);
}

uint32_t pcapfile_linktype_from_dlt(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
        return PCAPFILE_LINKTYPE_ETHERNET;
    case DLT_RAW:
        return PCAPFILE_LINKTYPE_RAW;
    case DLT_LINUX_SLL:
        return PCAPFILE_LINKTYPE_LINUX_SLL;
    default:
        return (uint32_t)dlt; /* the remaining DLT_* values equal their LINKTYPE_* */
    }
}

int pcapfile_write_fd(int fd, uint32_t linktype, uint32_t snaplen, const uint8_t *records, size_t records_len)
{
    uint8_t header[PCAPFILE_GLOBAL_HEADER_LEN];
    pcapfile_global_header(header, linktype, snaplen);
    struct iovec iov[2] = {{header, sizeof header}, {(void *)records, records_len}};
    int first = 0;
    while (first < 2) {
        ssize_t n = writev(fd, iov + first, 2 - first);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        size_t left = (size_t)n;
        while (first < 2 && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            first++;
        }
        if (first < 2) {
            iov[first].iov_base = (uint8_t *)iov[first].iov_base + left;
            iov[first].iov_len -= left;
        }
    }
    return 0;
}
