#include "firewall.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct text {
    char *buf;
    size_t cap, len;
    bool overflow;
};

static void emit(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct text *t, const char *fmt, ...)
{
    if (t->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len)
        t->overflow = true;
    else
        t->len += (size_t)n;
}

void firewall_table_name(const char *shm_name, char *out, size_t outlen)
{
    size_t j = 0;
    for (const char *p = shm_name; *p && j + 1 < outlen && j < 60; p++) {
        char c = *p;
        if (c == '/')
            continue;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out[j++] = ok ? c : '_';
    }
    if (j == 0 && outlen > 6) {
        snprintf(out, outlen, "lurker");
        return;
    }
    out[j] = '\0';
}

/* "    ip saddr { 203.0.113.10/32, 198.51.100.0/24 }" (DIR "saddr"/"daddr"): the config's prefixes of one family. */
static void emit_addresses(struct text *t, const struct lurker_config *cfg, int family, const char *dir)
{
    emit(t, "    %s %s ", family == AF_INET ? "ip" : "ip6", dir);
    bool any = false;
    for (size_t i = 0; i < cfg->naddresses; i++) {
        const struct prefix *p = &cfg->addresses[i];
        if (p->addr.family != family)
            continue;
        char a[64];
        ip_addr_format(&p->addr, a, sizeof a);
        emit(t, "%s%s/%u", any ? ", " : "{ ", a, p->len);
        any = true;
    }
    if (any)
        emit(t, " }");
}

/* " tcp sport != { 22, 8000-8100 }" (DIR "sport"/"dport") for the ports the responder does not answer, or "". */
static void emit_unanswered_ports(struct text *t, const struct lurker_config *cfg, const char *dir)
{
    bool any = false;
    unsigned port = 0;
    while (port <= 65535) {
        if (port_set_has(&cfg->responder.ports, (uint16_t)port)) {
            port++;
            continue;
        }
        unsigned first = port;
        while (port <= 65535 && !port_set_has(&cfg->responder.ports, (uint16_t)port))
            port++;
        emit(t, "%s", any ? ", " : " tcp ");
        if (!any)
            emit(t, "%s != { ", dir);
        if (first == port - 1)
            emit(t, "%u", first);
        else
            emit(t, "%u-%u", first, port - 1);
        any = true;
    }
    if (any)
        emit(t, " }");
}

/* The kernel's own resets of outsiders' packets (it has no socket for them), and only those: a RST without ACK
 * answers a segment that carried an ACK (the outsider's handshake ACK, data, FIN), a RST+ACK with sequence 0
 * answers a SYN (or a bare FIN). The host's own connections abort with RST+ACK at their current sequence, which
 * passes: its S3 uploads, metadata fetches and the like are never left half open. */
static void emit_reset_drops(struct text *t, const struct lurker_config *cfg, int family, bool answers_to_syns)
{
    emit_addresses(t, cfg, family, "saddr");
    emit(t, " tcp flags & (rst | ack) == rst");
    emit_unanswered_ports(t, cfg, "sport");
    emit(t, " drop\n");
    if (!answers_to_syns)
        return;
    emit_addresses(t, cfg, family, "saddr");
    emit(t, " tcp flags & (rst | ack) == rst | ack tcp sequence 0");
    emit_unanswered_ports(t, cfg, "sport");
    emit(t, " drop\n");
}

static void emit_output_chain(struct text *t, const struct lurker_config *cfg, const char *table)
{
    emit(t, "table inet %s {\n  chain output {\n    type filter hook output priority 0; policy accept;\n", table);
    if (config_has_family(cfg, AF_INET)) {
        emit_reset_drops(t, cfg, AF_INET, true);
        emit_addresses(t, cfg, AF_INET, "saddr");
        emit(t, " icmp type destination-unreachable icmp code port-unreachable drop\n");
    }
    if (config_has_family(cfg, AF_INET6)) {
        emit_reset_drops(t, cfg, AF_INET6, true);
        emit_addresses(t, cfg, AF_INET6, "saddr");
        emit(t, " icmpv6 type destination-unreachable icmpv6 code port-unreachable drop\n");
    }
    emit(t, "  }\n}\n");
}

/* Inbound TCP never reaches the kernel's TCP, except what the host's own connections need: the answers to them
 * arrive on its ephemeral ports and are never a bare SYN, so a bare SYN to any answered port, and anything to an
 * answered port outside the ephemeral range, is dropped. An outsider's later segments to an ephemeral port do
 * reach the kernel, which resets them: the egress chain drops those resets. */
static void emit_ingress_drops(struct text *t, const struct lurker_config *cfg, int family, struct port_range eph)
{
    emit_addresses(t, cfg, family, "daddr");
    emit(t, " meta l4proto tcp");
    emit_unanswered_ports(t, cfg, "dport");
    emit(t, " tcp dport != %u-%u drop\n", eph.lo, eph.hi);
    emit_addresses(t, cfg, family, "daddr");
    emit(t, " meta l4proto tcp");
    emit_unanswered_ports(t, cfg, "dport");
    emit(t, " tcp dport %u-%u tcp flags & (syn | ack) == syn drop\n", eph.lo, eph.hi);
}

static void emit_ingress_chain(struct text *t, const struct lurker_config *cfg, const char *table,
                               struct port_range eph)
{
    emit(t, "table netdev %s {\n  chain ingress {\n    type filter hook ingress device \"%s\" priority 0; "
            "policy accept;\n", table, cfg->interface);
    if (config_has_family(cfg, AF_INET))
        emit_ingress_drops(t, cfg, AF_INET, eph);
    if (config_has_family(cfg, AF_INET6))
        emit_ingress_drops(t, cfg, AF_INET6, eph);
    emit(t, "  }\n  chain egress {\n    type filter hook egress device \"%s\" priority 0; policy accept;\n",
         cfg->interface);
    if (config_has_family(cfg, AF_INET))
        emit_reset_drops(t, cfg, AF_INET, false);
    if (config_has_family(cfg, AF_INET6))
        emit_reset_drops(t, cfg, AF_INET6, false);
    emit(t, "  }\n}\n");
}

static const char *table_family(const struct lurker_config *cfg)
{
    return cfg->responder.firewall == FIREWALL_INGRESS ? "netdev" : "inet";
}

/* declare-then-delete makes the delete succeed whether or not a stale table exists; installing starts with it so
 * the whole replacement is one transaction */
static void emit_table_reset(struct text *t, const struct lurker_config *cfg, const char *table)
{
    emit(t, "table %s %s\ndelete table %s %s\n", table_family(cfg), table, table_family(cfg), table);
}

static int script(const struct lurker_config *cfg, const char *table, bool install, struct port_range ephemeral,
                  char *out, size_t outlen)
{
    struct text t = {out, outlen, 0, false};
    if (outlen)
        out[0] = '\0';
    if (cfg->responder.firewall == FIREWALL_NONE)
        return 0;
    emit_table_reset(&t, cfg, table);
    if (install && cfg->responder.firewall == FIREWALL_INGRESS)
        emit_ingress_chain(&t, cfg, table, ephemeral);
    else if (install)
        emit_output_chain(&t, cfg, table);
    return t.overflow ? -1 : (int)t.len;
}

int firewall_install_script(const struct lurker_config *cfg, const char *table, struct port_range ephemeral,
                            char *out, size_t outlen)
{
    return script(cfg, table, true, ephemeral, out, outlen);
}

int firewall_remove_script(const struct lurker_config *cfg, const char *table, char *out, size_t outlen)
{
    return script(cfg, table, false, (struct port_range){0, 0}, out, outlen);
}

int firewall_apply(const char *script, char *err, size_t errlen)
{
    int in[2], out[2];
    if (errlen)
        err[0] = '\0';
    if (script[0] == '\0')
        return 0;
    if (pipe2(in, O_CLOEXEC) < 0)
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execlp("nft", "nft", "-f", "-", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    /* the script is small (a few KiB): one write cannot block on the pipe's 64 KiB buffer */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    size_t len = strlen(script), done = 0;
    while (done < len) {
        ssize_t n = write(in[1], script + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(in[1]);
    signal(SIGPIPE, old);
    size_t got = 0;
    for (;;) {
        char chunk[256];
        ssize_t n = read(out[0], chunk, sizeof chunk);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && errlen && got + 1 < errlen; i++)
            err[got++] = chunk[i] == '\n' ? ' ' : chunk[i];
    }
    if (errlen)
        err[got] = '\0';
    close(out[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (got == 0)
        snprintf(err, errlen, "nft exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return -1;
}
