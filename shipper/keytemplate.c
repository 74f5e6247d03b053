/* Object keys from the key template. See keytemplate.h. */
#include "keytemplate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int key_char_ok(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '/';
}

int key_is_safe(const char *key)
{
    if (!*key || key[0] == '/' || strlen(key) >= KEY_MAX)
        return 0;
    for (const char *c = key; *c; c++)
        if (!key_char_ok((unsigned char)*c))
            return 0;
    /* every segment non-empty and not "." or ".." */
    const char *seg = key;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        if (!slash)
            return 1;
        seg = slash + 1;
    }
}

/* Appends s to out at *used; -1 if it does not fit. */
static int put(char *out, size_t outlen, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (*used + n >= outlen)
        return -1;
    memcpy(out + *used, s, n + 1);
    *used += n;
    return 0;
}

/* The text fields of a flow's key; empty for a batch (and seq empty for a flow). */
struct key_texts {
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], proto[FLOWID_PROTO_MAX], seq[48];
};

static void key_texts(const struct spool_name *m, struct key_texts *t)
{
    memset(t, 0, sizeof *t);
    if (m->batch) {
        snprintf(t->seq, sizeof t->seq, "%llu-%llu", (unsigned long long)m->batch_pid,
                 (unsigned long long)m->batch_number);
        return;
    }
    ip_addr_format_safe(&m->id.remote, t->src, sizeof t->src);
    ip_addr_format_safe(&m->id.local, t->dst, sizeof t->dst);
    const char *name = flowid_proto_name(m->id.proto, PROTO_SPELLING_NAME);
    if (name)
        snprintf(t->proto, sizeof t->proto, "%s", name);
    else
        snprintf(t->proto, sizeof t->proto, "p%u", m->id.proto);
}

int key_expand(const char *template, const char *prefix, const char *sensor, const struct spool_name *m, char *out,
               size_t outlen, char *err, size_t errlen)
{
    struct key_texts texts;
    key_texts(m, &texts);
    uint16_t sport = m->batch ? 0 : m->id.remote_port, dport = m->batch ? 0 : m->id.local_port;
    time_t t = (time_t)(m->first_us / 1000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t used = 0;
    out[0] = '\0';
    if (put(out, outlen, &used, prefix ? prefix : "") < 0)
        goto too_long;
    for (const char *p = template; *p;) {
        if (*p != '{') {
            char one[2] = {*p++, 0};
            if (put(out, outlen, &used, one) < 0)
                goto too_long;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close || close - p > 16) {
            snprintf(err, errlen, "key_template: unterminated '{' at \"%.20s\"", p);
            return -1;
        }
        char field[20], value[64];
        snprintf(field, sizeof field, "%.*s", (int)(close - p - 1), p + 1);
        const char *v = value;
        if (!strcmp(field, "sensor"))
            v = sensor;
        else if (!strcmp(field, "yyyy"))
            snprintf(value, sizeof value, "%04d", tm.tm_year + 1900);
        else if (!strcmp(field, "mm"))
            snprintf(value, sizeof value, "%02d", tm.tm_mon + 1);
        else if (!strcmp(field, "dd"))
            snprintf(value, sizeof value, "%02d", tm.tm_mday);
        else if (!strcmp(field, "hh"))
            snprintf(value, sizeof value, "%02d", tm.tm_hour);
        else if (!strcmp(field, "ts"))
            snprintf(value, sizeof value, "%llu", (unsigned long long)(m->first_us / 1000000u));
        else if (!strcmp(field, "us"))
            snprintf(value, sizeof value, "%06llu", (unsigned long long)(m->first_us % 1000000u));
        else if (!strcmp(field, "src"))
            v = texts.src;
        else if (!strcmp(field, "dst"))
            v = texts.dst;
        else if (!strcmp(field, "sport"))
            snprintf(value, sizeof value, "%u", sport);
        else if (!strcmp(field, "dport"))
            snprintf(value, sizeof value, "%u", dport);
        else if (!strcmp(field, "proto"))
            v = texts.proto;
        else if (!strcmp(field, "seq"))
            v = texts.seq;
        else {
            snprintf(err, errlen, "key_template: unknown field {%s}", field);
            return -1;
        }
        if (put(out, outlen, &used, v) < 0)
            goto too_long;
        p = close + 1;
    }
    /* two flows the capturer had to tell apart by a "-N" suffix keep it, so neither overwrites the other */
    if (!m->batch && m->duplicate) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, "-%u", m->duplicate);
        size_t len = strlen(out), ext = len >= 5 && strcmp(out + len - 5, ".pcap") == 0 ? 5 : 0;
        if (len + strlen(suffix) >= outlen)
            goto too_long;
        memmove(out + len - ext + strlen(suffix), out + len - ext, ext + 1);
        memcpy(out + len - ext, suffix, strlen(suffix));
    }
    if (!key_is_safe(out)) {
        snprintf(err, errlen, "key \"%.200s\" is not allowed (only [A-Za-z0-9-._/], no empty, '.' or '..' segment)",
                 out);
        return -1;
    }
    return 0;
too_long:
    snprintf(err, errlen, "key longer than %zu bytes", outlen - 1);
    return -1;
}

int key_for_unparsed(const char *prefix, const char *sensor, const char *name, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    if (put(out, outlen, &used, prefix ? prefix : "") < 0 || put(out, outlen, &used, "unparsed/") < 0 ||
        put(out, outlen, &used, sensor) < 0 || put(out, outlen, &used, "/") < 0)
        return -1;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        char one[4];
        if (isalnum(*c) || *c == '.' || *c == '-')
            snprintf(one, sizeof one, "%c", *c);
        else
            snprintf(one, sizeof one, "_%02x", *c);
        if (put(out, outlen, &used, one) < 0)
            return -1;
    }
    return key_is_safe(out) ? 0 : -1;
}
