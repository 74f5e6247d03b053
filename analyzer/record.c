#include "record.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"

/* json_object_set_new on a value that may be NULL after an allocation failure: skip the key rather than crash. */
static void put(json_t *obj, const char *key, json_t *value)
{
    if (value)
        json_object_set_new_nocheck(obj, key, value);
}

/* Strings from recognise.h are printable ASCII already. */
static void put_str(json_t *obj, const char *key, const char *s)
{
    if (s && s[0])
        put(obj, key, json_string_nocheck(s));
}

/* A name from the file system or an S3 key: kept as is when it is valid UTF-8, else as printable ASCII. */
static json_t *utf8_or_printable(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    char safe[1024];
    recognise_copy_printable(safe, sizeof safe, (const uint8_t *)s, strlen(s));
    return json_string_nocheck(safe);
}

static const char *proto_name(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_NUM_TCP: return "tcp";
    case IPPROTO_NUM_UDP: return "udp";
    case IPPROTO_NUM_ICMP: return "icmp";
    case IPPROTO_NUM_ICMPV6: return "icmpv6";
    default: return "other";
    }
}

static json_t *address(const struct flow *f, int endpoint)
{
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(f->family == 4 ? AF_INET : AF_INET6, f->addr[endpoint], buf, sizeof buf))
        return json_string_nocheck("?");
    return json_string_nocheck(buf);
}

static json_t *iso_time(struct timestamp ts)
{
    time_t t = (time_t)ts.sec;
    struct tm tm;
    char buf[48];
    if (!gmtime_r(&t, &tm))
        return json_null();
    size_t k = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, sizeof buf - k, ".%06uZ", ts.nsec / 1000);
    return json_string_nocheck(buf);
}

static void put_bytes(json_t *rec, struct record *out, const char *b64_key, const char *text_key, const char *len_key,
                      const struct stream *s, size_t limit, bool *cut_in_record)
{
    size_t n = s->len;
    if (limit && n > limit) {
        n = limit;
        *cut_in_record = true;
    }
    size_t b64len, textlen;
    char *b64 = text_base64(s->bytes, n, &b64len);
    char *text = text_readable_json(s->bytes, n, &textlen);
    if (b64 && out->ntext < RECORD_TEXTS)
        out->text[out->ntext++] = (struct record_text){ .key = b64_key, .value = b64, .len = b64len };
    else
        free(b64);
    if (text && out->ntext < RECORD_TEXTS)
        out->text[out->ntext++] = (struct record_text){ .key = text_key, .value = text, .len = textlen };
    else
        free(text);
    if (!out->client_bytes && strcmp(b64_key, "payload") == 0) {
        out->client_bytes = s->bytes;
        out->client_len = n;
    }
    put(rec, len_key, json_integer((json_int_t)s->len));
}

static json_t *gap_list(const struct stream *s)
{
    json_t *list = json_array();
    size_t listed = s->ngaps < REASSEMBLY_MAX_GAPS_LISTED ? (size_t)s->ngaps : REASSEMBLY_MAX_GAPS_LISTED;
    for (size_t i = 0; list && i < listed; i++) {
        json_t *g = json_object();
        if (!g)
            break;
        put(g, "offset", json_integer((json_int_t)s->gaps[i].offset));
        put(g, "length", json_integer((json_int_t)s->gaps[i].length));
        json_array_append_new(list, g);
    }
    return list;
}

static void put_recognised(json_t *rec, const struct recognised *r)
{
    put_str(rec, "service", r->service);
    if (r->ssh_banner[0] || r->ssh_server_banner[0]) {
        json_t *o = json_object();
        put_str(o, "banner", r->ssh_banner);
        put_str(o, "server_banner", r->ssh_server_banner);
        put(rec, "ssh", o);
    }
    if (r->http_method[0]) {
        json_t *o = json_object();
        put_str(o, "method", r->http_method);
        put(o, "path", json_string_nocheck(r->http_path));
        put_str(o, "version", r->http_version);
        put_str(o, "host", r->http_host);
        put_str(o, "user_agent", r->http_user_agent);
        put(rec, "http", o);
    }
    if (r->tls_version[0]) {
        json_t *o = json_object();
        put_str(o, "version", r->tls_version);
        put_str(o, "sni", r->tls_sni);
        if (r->tls_nalpn) {
            json_t *alpn = json_array();
            for (size_t i = 0; alpn && i < r->tls_nalpn; i++)
                json_array_append_new(alpn, json_string_nocheck(r->tls_alpn[i]));
            put(o, "alpn", alpn);
        }
        put_str(o, "ja3", r->tls_ja3);
        put_str(o, "ja3_full", r->tls_ja3_full);
        put(rec, "tls", o);
    }
    if (r->service && !strcmp(r->service, "rdp")) {
        json_t *o = json_object();
        put_str(o, "cookie", r->rdp_cookie);
        put(rec, "rdp", o);
    }
    if (r->redis_command[0]) {
        json_t *o = json_object();
        put_str(o, "command", r->redis_command);
        put(rec, "redis", o);
    }
    if (r->dns_qtype >= 0) {
        json_t *o = json_object();
        put_str(o, "qname", r->dns_qname);
        put(o, "qtype", json_integer(r->dns_qtype));
        put(rec, "dns", o);
    }
}

int record_build(const struct record_input *in, struct record *out)
{
    memset(out, 0, sizeof *out);
    const struct flow *f = in->flow;
    int c = f->client, s = !f->client;
    const struct flow_direction *cd = &f->dir[c], *sd = &f->dir[s];
    json_t *rec = json_object();
    if (!rec)
        return -1;
    out->fields = rec;
    put(rec, "schema_version", json_integer(ANALYZER_SCHEMA_VERSION));
    put(rec, "init_ts", json_integer((json_int_t)f->first.sec));
    put(rec, "last_ts", json_integer((json_int_t)f->last.sec));
    put(rec, "init_time", iso_time(f->first));
    put(rec, "last_time", iso_time(f->last));
    /* timestamps in a file may go backwards: a negative duration is reported as 0 */
    double duration = ((double)f->last.sec - (double)f->first.sec) +
                      ((double)f->last.nsec - (double)f->first.nsec) / 1e9;
    if (!(duration > 0))
        duration = 0;
    put(rec, "duration", json_real(duration < 1e12 ? (double)(long long)(duration * 1e6) / 1e6 : duration));
    put(rec, "proto", json_string_nocheck(proto_name(f->proto)));
    put(rec, "src_addr", address(f, c));
    put(rec, "src_port", json_integer(f->port[c]));
    put(rec, "dst_addr", address(f, s));
    put(rec, "dst_port", json_integer(f->port[s]));
    put(rec, "sensor", utf8_or_printable(in->src->sensor));
    put(rec, "s3path", utf8_or_printable(in->src->s3path));
    put(rec, "packets", json_integer((json_int_t)(cd->packets + sd->packets)));
    put(rec, "bytes", json_integer((json_int_t)(cd->ip_bytes + sd->ip_bytes)));
    put(rec, "client_packets", json_integer((json_int_t)cd->packets));
    put(rec, "server_packets", json_integer((json_int_t)sd->packets));

    bool tcp = f->proto == IPPROTO_NUM_TCP;
    put(rec, "handshake", json_boolean(tcp && cd->acked_peer_synack));
    if (tcp) {
        json_t *t = json_object();
        put(t, "syn", json_boolean(cd->syn));
        put(t, "synack", json_boolean(sd->synack));
        put(t, "client_fin", json_boolean(cd->fin));
        put(t, "server_fin", json_boolean(sd->fin));
        put(t, "client_rst", json_boolean(cd->rst));
        put(t, "server_rst", json_boolean(sd->rst));
        put(rec, "tcp", t);
    }
    if (f->proto == IPPROTO_NUM_ICMP || f->proto == IPPROTO_NUM_ICMPV6) {
        json_t *o = json_object();
        put(o, "type", json_integer(f->icmp_type));
        put(o, "code", json_integer(f->icmp_code));
        put(rec, "icmp", o);
    }
    const struct stream *cs = in->client, *ss = in->server;
    put(rec, "retransmissions", json_integer((json_int_t)(cs->retransmissions + ss->retransmissions)));
    put(rec, "overlaps", json_integer((json_int_t)(cs->overlaps + ss->overlaps)));
    put(rec, "overlap_conflicts", json_integer((json_int_t)(cs->overlap_conflicts + ss->overlap_conflicts)));
    put(rec, "out_of_order", json_integer((json_int_t)(cs->out_of_order + ss->out_of_order)));
    put(rec, "gaps", json_integer((json_int_t)cs->ngaps));
    put(rec, "gap_bytes", json_integer((json_int_t)cs->gap_bytes));
    if (cs->ngaps)
        put(rec, "gap_ranges", gap_list(cs));
    put(rec, "server_gaps", json_integer((json_int_t)ss->ngaps));

    bool cut_in_record = false;
    put_bytes(rec, out, "payload", "readable", "payload_len", cs, in->max_record_payload, &cut_in_record);
    put_bytes(rec, out, "server_payload", "server_readable", "server_payload_len", ss, in->max_record_payload,
              &cut_in_record);
    put_recognised(rec, in->seen);

    json_t *why = json_array();
    if (in->pcap_truncated)
        json_array_append_new(why, json_string_nocheck("pcap"));
    if (cd->clipped || sd->clipped)
        json_array_append_new(why, json_string_nocheck("snaplen"));
    if (cs->cut_bytes || ss->cut_bytes)
        json_array_append_new(why, json_string_nocheck("payload_cap"));
    if (cut_in_record)
        json_array_append_new(why, json_string_nocheck("record_size"));
    put(rec, "truncated", json_boolean(why && json_array_size(why) > 0));
    put(rec, "truncation", why);
    if (cs->cut_bytes || ss->cut_bytes)
        put(rec, "cut_bytes", json_integer((json_int_t)(cs->cut_bytes + ss->cut_bytes)));
    return 0;
}

void record_free(struct record *r)
{
    json_decref(r->fields);
    for (size_t i = 0; i < r->ntext; i++)
        free(r->text[i].value);
    memset(r, 0, sizeof *r);
}

/* A growing output line. Sized up front for the payload fields; the rest grows as needed. */
struct line {
    char *s;
    size_t len, size;
    bool oom;
};

static void line_reserve(struct line *l, size_t more)
{
    if (l->oom || l->len + more + 1 <= l->size)
        return;
    size_t size = l->size ? l->size : 1024;
    while (size < l->len + more + 1)
        size *= 2;
    char *s = realloc(l->s, size);
    if (!s) {
        l->oom = true;
        return;
    }
    l->s = s;
    l->size = size;
}

static void line_put(struct line *l, const char *s, size_t n)
{
    line_reserve(l, n);
    if (l->oom)
        return;
    memcpy(l->s + l->len, s, n);
    l->len += n;
}

/* A JSON string: printable bytes and UTF-8 pass through (jansson validated the UTF-8 on creation, and recognise.h
 * strings are ASCII); quotes, backslashes and control characters are escaped. */
static void line_string(struct line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    line_reserve(l, n * 6 + 2);
    if (l->oom)
        return;
    char *o = l->s + l->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 0xf];
            o += 6;
        }
    }
    *o++ = '"';
    l->len = (size_t)(o - l->s);
}

static void line_value(struct line *l, json_t *v, int depth);

static void line_object(struct line *l, json_t *obj, int depth)
{
    const char *key;
    json_t *v;
    bool first = true;
    line_put(l, "{", 1);
    json_object_foreach(obj, key, v) {
        if (!first)
            line_put(l, ",", 1);
        first = false;
        line_string(l, key, strlen(key));
        line_put(l, ":", 1);
        line_value(l, v, depth + 1);
    }
    line_put(l, "}", 1);
}

/* The records this file builds are three levels deep at most; anything else is written with jansson's encoder. */
static void line_value(struct line *l, json_t *v, int depth)
{
    char buf[64];
    int k;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (depth < 8) {
            line_object(l, v, depth);
            return;
        }
        break;
    case JSON_ARRAY:
        if (depth < 8) {
            line_put(l, "[", 1);
            for (size_t i = 0; i < json_array_size(v); i++) {
                if (i)
                    line_put(l, ",", 1);
                line_value(l, json_array_get(v, i), depth + 1);
            }
            line_put(l, "]", 1);
            return;
        }
        break;
    case JSON_STRING:
        line_string(l, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER: { /* decimal digits written backwards: printf is a visible cost per record */
        json_int_t n = json_integer_value(v);
        uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
        k = (int)sizeof buf;
        do {
            buf[--k] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (n < 0)
            buf[--k] = '-';
        line_put(l, buf + k, sizeof buf - (size_t)k);
        return;
    }
    case JSON_TRUE:
        line_put(l, "true", 4);
        return;
    case JSON_FALSE:
        line_put(l, "false", 5);
        return;
    case JSON_NULL:
        line_put(l, "null", 4);
        return;
    case JSON_REAL:
        break;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        l->oom = true;
        return;
    }
    line_put(l, text, strlen(text));
    free(text);
}

int record_serialize(const struct record *r, char **out, size_t *len)
{
    struct line l = { 0 };
    size_t want = 4096;
    for (size_t i = 0; i < r->ntext; i++)
        want += strlen(r->text[i].key) + 6 + r->text[i].len;
    line_reserve(&l, want);
    line_object(&l, r->fields, 0);
    bool empty = !l.oom && l.len == 2; /* "{}" */
    if (!l.oom)
        l.len--; /* reopen the object for the payload fields */
    for (size_t i = 0; i < r->ntext; i++) {
        line_put(&l, i == 0 && empty ? "\"" : ",\"", i == 0 && empty ? 1 : 2);
        line_put(&l, r->text[i].key, strlen(r->text[i].key));
        line_put(&l, "\":\"", 3);
        line_put(&l, r->text[i].value, r->text[i].len);
        line_put(&l, "\"", 1);
    }
    line_put(&l, "}", 1);
    if (l.oom) {
        free(l.s);
        return -1;
    }
    l.s[l.len] = '\0';
    *out = l.s;
    *len = l.len;
    return 0;
}
