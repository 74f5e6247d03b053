#include "record.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowid.h"
#include "text.h"

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
    const char *name = flowid_proto_name(proto, PROTO_SPELLING_JSON);
    return name ? name : "other";
}

/* Whether the record's texts are cut by max_record_payload (one of the "truncation" reasons). */
static bool cut_in_record(const struct record_input *in)
{
    size_t limit = in->max_record_payload;
    return limit && (in->client->len > limit || in->server->len > limit);
}

static size_t record_limit(const struct record_input *in, const struct stream *s)
{
    return in->max_record_payload && s->len > in->max_record_payload ? in->max_record_payload : s->len;
}

static const char *started_by_name(enum started_by who)
{
    return who == STARTED_BY_SENSOR ? "sensor" : "outsider";
}

void record_prepare(const struct record_input *in, struct record_buffer *buffer, struct record *out)
{
    out->input = in;
    out->buffer = buffer;
    out->client_bytes = in->client->bytes;
    out->client_len = record_limit(in, in->client);
}

void record_buffer_free(struct record_buffer *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* The record is written once, as JSON text straight into a buffer, with no intermediate objects. Every string written is either produced here (digits, fixed names, base64, the readable text, ASCII from the
 * recognisers, all escaped) or a file/S3 name that jansson validated as UTF-8 (record_source_json()), so the line is
 * always valid UTF-8 JSON. */

/* Grows the buffer to hold `more` bytes plus the slack the eight-byte stores of text_readable_json_into() need. */
static bool grow(struct record_buffer *b, size_t more)
{
    if (b->oom)
        return false;
    size_t size = b->size ? b->size : 4096;
    while (size < b->len + more + 16)
        size *= 2;
    char *s = realloc(b->s, size);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->size = size;
    return true;
}

/* The check every write makes: inline, since a record is a few hundred small writes. */
static inline bool reserve(struct record_buffer *b, size_t more)
{
    return (b->len + more + 16 <= b->size && !b->oom) || grow(b, more);
}

static inline void put_raw(struct record_buffer *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
}

#define PUT_LITERAL(b, lit) put_raw((b), lit, sizeof lit - 1)

static inline void put_char(struct record_buffer *b, char c)
{
    if (reserve(b, 1))
        b->s[b->len++] = c;
}

static void put_uint(struct record_buffer *b, uint64_t u)
{
    char buf[24], *start = text_decimal(buf + sizeof buf, u);
    put_raw(b, start, (size_t)(buf + sizeof buf - start));
}

/* As json_integer() stores a json_int_t (int64): values above INT64_MAX come out negative, as they always did. */
static void put_int(struct record_buffer *b, int64_t n)
{
    if (n < 0) {
        put_char(b, '-');
        put_uint(b, 0 - (uint64_t)n);
    } else {
        put_uint(b, (uint64_t)n);
    }
}

static void put_bool(struct record_buffer *b, bool v)
{
    if (v)
        PUT_LITERAL(b, "true");
    else
        PUT_LITERAL(b, "false");
}

/* A JSON string: printable bytes and UTF-8 pass through; quotes, backslashes and control characters escaped. */
static void put_string(struct record_buffer *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!reserve(b, n * 6 + 2))
        return;
    char *o = b->s + b->len;
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
    b->len = (size_t)(o - b->s);
}

static void put_cstring(struct record_buffer *b, const char *s)
{
    put_string(b, s, strlen(s));
}

/* A key after the first one of an object: `,"key":`. The literal carries its quotes and colon. */
#define PUT_KEY(b, quoted_key_colon) PUT_LITERAL((b), "," quoted_key_colon)

/* A key that may be the object's first: no comma then. */
static void put_member_key(struct record_buffer *b, bool *first, const char *key)
{
    if (!*first)
        put_char(b, ',');
    *first = false;
    put_cstring(b, key);
    put_char(b, ':');
}

/* Only non-empty strings become members. */
static void put_member_str(struct record_buffer *b, bool *first, const char *key, const char *s)
{
    if (s && s[0]) {
        put_member_key(b, first, key);
        put_cstring(b, s);
    }
}

/* printf("%.17g") of v, for 1e-6 <= v < 1e12 (durations): the 17 significant digits are the exact binary value
 * scaled by a power of ten and rounded half to even, in 128-bit integers, as glibc rounds. Returns the length, or
 * 0 when v is outside that range (the caller then uses snprintf). */
static size_t format_g17(double v, char *out)
{
    if (!(v >= 1e-6 && v < 1e12))
        return 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned __int128 mant = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int shift = 1075 - (int)((bits >> 52) & 0x7ff); /* v = mant / 2^shift */
    static const uint64_t e16 = 10000000000000000ull, e17 = 100000000000000000ull;
    int x = 0; /* decimal exponent estimate, corrected below */
    for (double p = 1; p * 10 <= v; p *= 10)
        x++;
    for (double p = 1; p > v; p /= 10)
        x--;
    uint64_t digits = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        int k = 16 - x; /* digits = round(v * 10^k) */
        if (k < 0 || k > 22 || shift <= 0 || shift >= 127)
            return 0;
        unsigned __int128 n = mant;
        for (int i = 0; i < k; i++)
            n *= 10;
        unsigned __int128 q = n >> shift, rem = n & (((unsigned __int128)1 << shift) - 1);
        unsigned __int128 half = (unsigned __int128)1 << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        if (q < e16) {
            x--;
            continue;
        }
        if (q > e17) {
            x++;
            continue;
        }
        if (q == e17) { /* rounded up to the next power of ten */
            q = e16;
            x++;
        }
        digits = (uint64_t)q;
        break;
    }
    if (!digits)
        return 0;
    char d[17];
    for (int i = 16; i >= 0; i--) {
        d[i] = (char)('0' + digits % 10);
        digits /= 10;
    }
    int last = 16; /* %g drops trailing zeros */
    while (last > 0 && d[last] == '0')
        last--;
    size_t len = 0;
    if (x < -4) { /* d.ddd e-XX */
        out[len++] = d[0];
        if (last > 0) {
            out[len++] = '.';
            memcpy(out + len, d + 1, (size_t)last);
            len += (size_t)last;
        }
        out[len++] = 'e';
        out[len++] = '-';
        out[len++] = (char)('0' + (-x) / 10);
        out[len++] = (char)('0' + (-x) % 10);
    } else if (x < 0) { /* 0.000ddd */
        memcpy(out, "0.", 2);
        len = 2;
        for (int i = 0; i < -x - 1; i++)
            out[len++] = '0';
        memcpy(out + len, d, (size_t)last + 1);
        len += (size_t)last + 1;
    } else { /* ddd.ddd */
        memcpy(out, d, (size_t)x + 1);
        len = (size_t)x + 1;
        if (last > x) {
            out[len++] = '.';
            memcpy(out + len, d + x + 1, (size_t)(last - x));
            len += (size_t)(last - x);
        }
    }
    return len;
}

/* A double as jansson writes it (jsonp_dtostr: "%.17g", ".0" appended when it would read as an integer, the
 * exponent without '+' or leading zeros), so the line matches what json_dumps() wrote before. */
static void put_real(struct record_buffer *b, double v)
{
    char buf[48];
    size_t len = format_g17(v, buf);
    if (v == 0 && !signbit(v)) {
        buf[0] = '0';
        len = 1;
    } else if (!len) {
        int k = snprintf(buf, sizeof buf, "%.17g", v);
        if (k < 0 || (size_t)k >= sizeof buf - 3)
            return;
        len = (size_t)k;
    }
    if (!memchr(buf, '.', len) && !memchr(buf, 'e', len)) {
        memcpy(buf + len, ".0", 2);
        len += 2;
    }
    char *e = memchr(buf, 'e', len);
    if (e) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (end < buf + len && *end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(buf + len - end));
            len -= (size_t)(end - start);
        }
    }
    put_raw(b, buf, len);
}

static void put_two(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

/* "%Y-%m-%dT%H:%M:%S.%06uZ" in UTC. Years 1970-9999 are computed here (days to civil date, Howard Hinnant's
 * algorithm); anything else goes through gmtime_r/strftime as before, or is null when gmtime_r fails. */
static void put_iso_time(struct record_buffer *b, struct timestamp ts)
{
    char buf[64];
    size_t k;
    if (ts.sec < 253402300800ull) {
        uint64_t days = ts.sec / 86400, secs = ts.sec % 86400;
        int64_t z = (int64_t)days + 719468;
        int64_t era = z / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        unsigned day = doy - (153 * mp + 2) / 5 + 1;
        unsigned month = mp < 10 ? mp + 3 : mp - 9;
        unsigned year = (unsigned)(yoe + era * 400) + (month <= 2);
        buf[0] = '"';
        put_two(buf + 1, year / 100);
        put_two(buf + 3, year % 100);
        buf[5] = '-';
        put_two(buf + 6, month);
        buf[8] = '-';
        put_two(buf + 9, day);
        buf[11] = 'T';
        put_two(buf + 12, (unsigned)(secs / 3600));
        buf[14] = ':';
        put_two(buf + 15, (unsigned)(secs / 60 % 60));
        buf[17] = ':';
        put_two(buf + 18, (unsigned)(secs % 60));
        buf[20] = '.';
        k = 21;
    } else {
        time_t t = (time_t)ts.sec;
        struct tm tm;
        if (!gmtime_r(&t, &tm)) {
            PUT_LITERAL(b, "null");
            return;
        }
        buf[0] = '"';
        k = 1 + strftime(buf + 1, sizeof buf - 1, "%Y-%m-%dT%H:%M:%S", &tm);
        buf[k++] = '.';
    }
    /* %06u of the microseconds: at least six digits (nsec may exceed a second in a corrupt pcapng) */
    char digits[24], *end = digits + sizeof digits, *d = text_decimal(end, ts.nsec / 1000);
    while (end - d < 6)
        *--d = '0';
    memcpy(buf + k, d, (size_t)(end - d));
    k += (size_t)(end - d);
    buf[k++] = 'Z';
    buf[k++] = '"';
    put_raw(b, buf, k);
}

static void put_address(struct record_buffer *b, const struct flow *f, int endpoint)
{
    const uint8_t *a = f->addr[endpoint];
    if (f->family == 4) { /* inet_ntop's dotted quad, without its per-call overhead */
        char buf[24], *o = buf;
        *o++ = '"';
        for (int i = 0; i < 4; i++) {
            unsigned v = a[i];
            if (v >= 100)
                *o++ = (char)('0' + v / 100);
            if (v >= 10)
                *o++ = (char)('0' + v / 10 % 10);
            *o++ = (char)('0' + v % 10);
            *o++ = i < 3 ? '.' : '"';
        }
        put_raw(b, buf, (size_t)(o - buf));
        return;
    }
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(AF_INET6, a, buf, sizeof buf))
        PUT_LITERAL(b, "\"?\"");
    else
        put_cstring(b, buf);
}

/* A name as utf8_or_printable() keeps it: itself when valid UTF-8, else printable ASCII; null when absent. */
static void put_name(struct record_buffer *b, const char *s)
{
    json_t *v = utf8_or_printable(s);
    if (v && json_is_string(v))
        put_string(b, json_string_value(v), json_string_length(v));
    else
        PUT_LITERAL(b, "null");
    json_decref(v);
}

void record_source_json(const struct analyze_source *src, struct record_buffer *b)
{
    PUT_LITERAL(b, "\"sensor\":");
    put_name(b, src->sensor);
    PUT_LITERAL(b, ",\"s3path\":");
    put_name(b, src->s3path);
}

static void put_recognised_json(struct record_buffer *b, const struct recognised *r)
{
    bool first;
    if (r->service && r->service[0]) {
        PUT_KEY(b, "\"service\":");
        put_cstring(b, r->service);
    }
    if (r->ssh_banner[0] || r->ssh_server_banner[0]) {
        PUT_KEY(b, "\"ssh\":{");
        first = true;
        put_member_str(b, &first, "banner", r->ssh_banner);
        put_member_str(b, &first, "server_banner", r->ssh_server_banner);
        put_char(b, '}');
    }
    if (r->http_method[0]) {
        PUT_KEY(b, "\"http\":{");
        first = true;
        put_member_str(b, &first, "method", r->http_method);
        put_member_key(b, &first, "path");
        put_cstring(b, r->http_path);
        put_member_str(b, &first, "version", r->http_version);
        put_member_str(b, &first, "host", r->http_host);
        put_member_str(b, &first, "user_agent", r->http_user_agent);
        put_char(b, '}');
    }
    if (r->tls_version[0]) {
        PUT_KEY(b, "\"tls\":{");
        first = true;
        put_member_str(b, &first, "version", r->tls_version);
        put_member_str(b, &first, "sni", r->tls_sni);
        if (r->tls_nalpn) {
            put_member_key(b, &first, "alpn");
            put_char(b, '[');
            for (size_t i = 0; i < r->tls_nalpn; i++) {
                if (i)
                    put_char(b, ',');
                put_cstring(b, r->tls_alpn[i]);
            }
            put_char(b, ']');
        }
        put_member_str(b, &first, "ja3", r->tls_ja3);
        put_member_str(b, &first, "ja3_full", r->tls_ja3_full);
        put_char(b, '}');
    }
    if (r->service && !strcmp(r->service, "rdp")) {
        PUT_KEY(b, "\"rdp\":{");
        first = true;
        put_member_str(b, &first, "cookie", r->rdp_cookie);
        put_char(b, '}');
    }
    if (r->redis_command[0]) {
        PUT_KEY(b, "\"redis\":{");
        first = true;
        put_member_str(b, &first, "command", r->redis_command);
        put_char(b, '}');
    }
    if (r->dns_qtype >= 0) {
        PUT_KEY(b, "\"dns\":{");
        first = true;
        put_member_str(b, &first, "qname", r->dns_qname);
        put_member_key(b, &first, "qtype");
        put_int(b, r->dns_qtype);
        put_char(b, '}');
    }
}

/* `,"KEY":"BASE64","TEXT_KEY":"READABLE"` of one direction, cut at the record limit. */
static void put_texts(struct record_buffer *b, const char *b64_member, size_t b64_member_len, const char *text_member,
                      size_t text_member_len, const uint8_t *bytes, size_t n)
{
    if (!reserve(b, b64_member_len + TEXT_BASE64_LEN(n) + text_member_len + TEXT_READABLE_JSON_MAX(n) + 2))
        return;
    memcpy(b->s + b->len, b64_member, b64_member_len);
    b->len += b64_member_len;
    b->len += text_base64_into(b->s + b->len, bytes, n);
    b->s[b->len++] = '"';
    memcpy(b->s + b->len, text_member, text_member_len);
    b->len += text_member_len;
    b->len += text_readable_json_into(b->s + b->len, bytes, n); /* reserve() keeps 16 bytes of slack */
    b->s[b->len++] = '"';
}

#define PUT_TEXTS(b, b64_member, text_member, bytes, n) \
    put_texts((b), b64_member, sizeof b64_member - 1, text_member, sizeof text_member - 1, (bytes), (n))

/* The whole record, appended to b: its fields in SCHEMA.md's order, then the four texts. */
static void write_record(const struct record_input *in, struct record_buffer *b)
{
    const struct flow *f = in->flow;
    int c = f->client, s = !f->client;
    const struct flow_direction *cd = &f->dir[c], *sd = &f->dir[s];
    const struct stream *cs = in->client, *ss = in->server;

    PUT_LITERAL(b, "{\"schema_version\":");
    put_int(b, ANALYZER_SCHEMA_VERSION);
    PUT_KEY(b, "\"init_ts\":");
    put_int(b, (int64_t)f->first.sec);
    PUT_KEY(b, "\"last_ts\":");
    put_int(b, (int64_t)f->last.sec);
    PUT_KEY(b, "\"init_time\":");
    put_iso_time(b, f->first);
    PUT_KEY(b, "\"last_time\":");
    put_iso_time(b, f->last);
    double duration = ((double)f->last.sec - (double)f->first.sec) +
                      ((double)f->last.nsec - (double)f->first.nsec) / 1e9;
    if (!(duration > 0))
        duration = 0;
    PUT_KEY(b, "\"duration\":");
    put_real(b, duration < 1e12 ? (double)(long long)(duration * 1e6) / 1e6 : duration);
    PUT_KEY(b, "\"proto\":");
    put_cstring(b, proto_name(f->proto));
    PUT_KEY(b, "\"src_addr\":");
    put_address(b, f, c);
    PUT_KEY(b, "\"src_port\":");
    put_uint(b, f->port[c]);
    PUT_KEY(b, "\"dst_addr\":");
    put_address(b, f, s);
    PUT_KEY(b, "\"dst_port\":");
    put_uint(b, f->port[s]);
    if (in->started_by != STARTED_BY_UNKNOWN) {
        PUT_KEY(b, "\"started_by\":");
        put_cstring(b, started_by_name(in->started_by));
    }
    put_char(b, ',');
    if (in->source_json)
        put_raw(b, in->source_json, in->source_json_len);
    else
        record_source_json(in->src, b);
    PUT_KEY(b, "\"packets\":");
    put_int(b, (int64_t)(cd->packets + sd->packets));
    PUT_KEY(b, "\"bytes\":");
    put_int(b, (int64_t)(cd->ip_bytes + sd->ip_bytes));
    PUT_KEY(b, "\"client_packets\":");
    put_int(b, (int64_t)cd->packets);
    PUT_KEY(b, "\"server_packets\":");
    put_int(b, (int64_t)sd->packets);

    bool tcp = f->proto == IPPROTO_TCP;
    PUT_KEY(b, "\"handshake\":");
    put_bool(b, tcp && cd->acked_peer_synack);
    if (tcp) {
        PUT_KEY(b, "\"tcp\":{\"syn\":");
        put_bool(b, cd->syn);
        PUT_KEY(b, "\"synack\":");
        put_bool(b, sd->synack);
        PUT_KEY(b, "\"client_fin\":");
        put_bool(b, cd->fin);
        PUT_KEY(b, "\"server_fin\":");
        put_bool(b, sd->fin);
        PUT_KEY(b, "\"client_rst\":");
        put_bool(b, cd->rst);
        PUT_KEY(b, "\"server_rst\":");
        put_bool(b, sd->rst);
        put_char(b, '}');
    }
    if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
        PUT_KEY(b, "\"icmp\":{\"type\":");
        put_uint(b, f->icmp_type);
        PUT_KEY(b, "\"code\":");
        put_uint(b, f->icmp_code);
        put_char(b, '}');
    }
    PUT_KEY(b, "\"retransmissions\":");
    put_int(b, (int64_t)(cs->retransmissions + ss->retransmissions));
    PUT_KEY(b, "\"overlaps\":");
    put_int(b, (int64_t)(cs->overlaps + ss->overlaps));
    PUT_KEY(b, "\"overlap_conflicts\":");
    put_int(b, (int64_t)(cs->overlap_conflicts + ss->overlap_conflicts));
    PUT_KEY(b, "\"out_of_order\":");
    put_int(b, (int64_t)(cs->out_of_order + ss->out_of_order));
    PUT_KEY(b, "\"gaps\":");
    put_int(b, (int64_t)cs->ngaps);
    PUT_KEY(b, "\"gap_bytes\":");
    put_int(b, (int64_t)cs->gap_bytes);
    if (cs->ngaps) {
        PUT_KEY(b, "\"gap_ranges\":[");
        size_t listed = cs->ngaps < REASSEMBLY_MAX_GAPS_LISTED ? (size_t)cs->ngaps : REASSEMBLY_MAX_GAPS_LISTED;
        for (size_t i = 0; i < listed; i++) {
            if (i)
                put_char(b, ',');
            PUT_LITERAL(b, "{\"offset\":");
            put_int(b, (int64_t)cs->gaps[i].offset);
            PUT_KEY(b, "\"length\":");
            put_int(b, (int64_t)cs->gaps[i].length);
            put_char(b, '}');
        }
        put_char(b, ']');
    }
    PUT_KEY(b, "\"server_gaps\":");
    put_int(b, (int64_t)ss->ngaps);
    PUT_KEY(b, "\"payload_len\":");
    put_int(b, (int64_t)cs->len);
    PUT_KEY(b, "\"server_payload_len\":");
    put_int(b, (int64_t)ss->len);
    put_recognised_json(b, in->seen);

    bool pcap = in->pcap_truncated, snaplen = cd->clipped || sd->clipped;
    bool cap = cs->cut_bytes || ss->cut_bytes, record_size = cut_in_record(in);
    PUT_KEY(b, "\"truncated\":");
    put_bool(b, pcap || snaplen || cap || record_size);
    PUT_KEY(b, "\"truncation\":[");
    bool first = true;
    const char *reasons[] = { pcap ? "\"pcap\"" : NULL, snaplen ? "\"snaplen\"" : NULL,
                              cap ? "\"payload_cap\"" : NULL, record_size ? "\"record_size\"" : NULL };
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++) {
        if (!reasons[i])
            continue;
        if (!first)
            put_char(b, ',');
        first = false;
        put_raw(b, reasons[i], strlen(reasons[i]));
    }
    put_char(b, ']');
    if (cap) {
        PUT_KEY(b, "\"cut_bytes\":");
        put_int(b, (int64_t)(cs->cut_bytes + ss->cut_bytes));
    }
    PUT_TEXTS(b, ",\"payload\":\"", ",\"readable\":\"", cs->bytes, record_limit(in, cs));
    PUT_TEXTS(b, ",\"server_payload\":\"", ",\"server_readable\":\"", ss->bytes, record_limit(in, ss));
    put_char(b, '}');
}

int record_append_line(const struct record *r, struct record_buffer *out)
{
    size_t start = out->len;
    out->oom = false;
    write_record(r->input, out);
    put_char(out, '\n');
    if (out->oom) {
        out->len = start;
        out->oom = false;
        return -1;
    }
    return 0;
}

int record_json_line(const struct record *r, const char **line, size_t *len)
{
    struct record_buffer *b = r->buffer;
    b->len = 0;
    if (record_append_line(r, b) != 0)
        return -1;
    *line = b->s;
    *len = b->len;
    return 0;
}

json_t *record_fields(const struct record *r)
{
    const char *line;
    size_t len;
    if (record_json_line(r, &line, &len) != 0)
        return NULL;
    return json_loadb(line, len - 1, JSON_ALLOW_NUL, NULL);
}
