#include "raw_sender.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int open_raw(int family, char *err, size_t errlen)
{
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) {
        snprintf(err, errlen, "raw %s socket: %s", family == AF_INET ? "IPv4" : "IPv6", strerror(errno));
        return -1;
    }
    /* blocking: under a burst a full send buffer waits rather than dropping a SYN+ACK; it only sends, so no receive
     * buffer */
    int zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &zero, sizeof zero);
    int big = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    return fd;
}

int raw_sender_open(struct raw_sender *s, int want_v4, int want_v6, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->v4.fd = s->v6.fd = -1;
    if (want_v4 && (s->v4.fd = open_raw(AF_INET, err, errlen)) < 0)
        return -1;
    if (want_v6 && (s->v6.fd = open_raw(AF_INET6, err, errlen)) < 0) {
        raw_sender_close(s);
        return -1;
    }
    return 0;
}

void raw_sender_close(struct raw_sender *s)
{
    if (s->v4.fd >= 0)
        close(s->v4.fd);
    if (s->v6.fd >= 0)
        close(s->v6.fd);
    s->v4.fd = s->v6.fd = -1;
}

static struct sender_queue *queue_for(struct raw_sender *s, const struct ip_addr *dst)
{
    struct sender_queue *q = dst->family == AF_INET ? &s->v4 : &s->v6;
    return q->fd >= 0 ? q : NULL;
}

static void flush_queue(struct raw_sender *s, struct sender_queue *q)
{
    struct mmsghdr msgs[SENDER_BATCH];
    struct iovec iov[SENDER_BATCH];
    unsigned done = 0;
    for (unsigned i = 0; i < q->count; i++) {
        iov[i].iov_base = q->packets[i];
        iov[i].iov_len = q->lengths[i];
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_name = &q->dests[i];
        msgs[i].msg_hdr.msg_namelen =
            q->dests[i].ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (done < q->count) {
        int n = sendmmsg(q->fd, msgs + done, q->count - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* the packet at `done` was refused (ENOBUFS, EPERM from a firewall...): count it, go on with the rest */
            s->errors++;
            done++;
            continue;
        }
        for (int i = 0; i < n; i++)
            s->sent[q->kinds[done + (unsigned)i]]++;
        done += (unsigned)n;
    }
    q->count = 0;
}

uint8_t *raw_sender_slot(struct raw_sender *s, const struct ip_addr *dst)
{
    struct sender_queue *q = queue_for(s, dst);
    if (!q)
        return NULL;
    if (q->count == SENDER_BATCH)
        flush_queue(s, q);
    return q->packets[q->count];
}

void raw_sender_commit(struct raw_sender *s, const struct ip_addr *dst, size_t len, enum packet_kind kind)
{
    struct sender_queue *q = queue_for(s, dst);
    if (!q || len == 0)
        return;
    struct sockaddr_storage *ss = &q->dests[q->count];
    memset(ss, 0, sizeof *ss);
    if (dst->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, ip_addr_v4(dst), 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, dst->bytes, 16);
    }
    q->kinds[q->count] = (uint8_t)kind;
    q->lengths[q->count++] = len;
}

void raw_sender_flush(struct raw_sender *s)
{
    if (s->v4.fd >= 0 && s->v4.count)
        flush_queue(s, &s->v4);
    if (s->v6.fd >= 0 && s->v6.count)
        flush_queue(s, &s->v6);
}
