#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"

#define KEY_MAX 64                  /* longest source address or service name kept (longer ones are cut) */
#define MAX_TS ((int64_t)1 << 40)   /* timestamps beyond this (year 36812) are hostile or broken: not charted */
#define TIME_BUCKETS_MAX 96

/* ---- counting maps ---------------------------------------------------------------------------------------- */

struct str_count {
    char key[KEY_MAX + 1];
    uint64_t n;
};

struct str_map { /* open addressing; the table doubles at half load, up to `limit` keys */
    struct str_count *slots;
    size_t cap, n, limit;
    uint64_t dropped;               /* flows whose key arrived after the limit */
};

struct minute_count {
    int64_t minute;                 /* -1: empty slot */
    uint64_t completed, other;
};

struct minute_map {
    struct minute_count *slots;
    size_t cap, n;
};

static uint64_t hash_bytes(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int str_map_grow(struct str_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    struct str_count *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].n)
            continue;
        size_t j = hash_bytes(m->slots[i].key) & (cap - 1);
        while (slots[j].n)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

static int str_map_add(struct str_map *m, const char *key)
{
    char k[KEY_MAX + 1];
    snprintf(k, sizeof k, "%s", key);
    if (m->n * 2 >= m->cap && m->n < m->limit && str_map_grow(m) != 0)
        return -1;
    size_t j = hash_bytes(k) & (m->cap - 1);
    while (m->slots[j].n && strcmp(m->slots[j].key, k) != 0)
        j = (j + 1) & (m->cap - 1);
    if (!m->slots[j].n) {
        if (m->n >= m->limit) {
            m->dropped++;
            return 0;
        }
        memcpy(m->slots[j].key, k, sizeof k);
        m->n++;
    }
    m->slots[j].n++;
    return 0;
}

static int minute_map_grow(struct minute_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct minute_count *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < cap; i++)
        slots[i].minute = -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].minute < 0)
            continue;
        size_t j = ((uint64_t)m->slots[i].minute * 0x9e3779b97f4a7c15ull) >> 20 & (cap - 1);
        while (slots[j].minute >= 0)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

static int minute_map_add(struct minute_map *m, int64_t minute, bool completed)
{
    if (m->n * 2 >= m->cap && minute_map_grow(m) != 0)
        return -1;
    size_t j = ((uint64_t)minute * 0x9e3779b97f4a7c15ull) >> 20 & (m->cap - 1);
    while (m->slots[j].minute >= 0 && m->slots[j].minute != minute)
        j = (j + 1) & (m->cap - 1);
    if (m->slots[j].minute < 0) {
        m->slots[j] = (struct minute_count){ .minute = minute };
        m->n++;
    }
    if (completed)
        m->slots[j].completed++;
    else
        m->slots[j].other++;
    return 0;
}

/* ---- what is kept ------------------------------------------------------------------------------------------- */

enum outcome { OUT_COMPLETED, OUT_RESET, OUT_UNANSWERED, OUT_MIDSTREAM, OUT_UDP, OUT_ICMP, OUT_COUNT };

static const char *const outcome_names[OUT_COUNT] = {
    "TCP handshake completed", "SYN, then reset by the client (SYN scan)", "SYN never completed (spoofed or scan)",
    "TCP without a SYN", "UDP", "ICMP",
};
static const char *const outcome_colours[OUT_COUNT] = {
    "#2f9e6e", "#e8a33d", "#d9534f", "#8c7ae6", "#3b82c4", "#8a96a3",
};

struct recent {
    int64_t init_ts;
    char time[32], src[KEY_MAX + 1], proto[8], service[KEY_MAX + 1], sensor[KEY_MAX + 1];
    int64_t src_port, dst_port, payload_len;
    bool handshake, used;
    char excerpt[REPORT_EXCERPT];
    size_t excerpt_len;
};

struct report {
    uint64_t flows, packets, bytes, with_payload, with_service, timeless;
    uint64_t outcomes[OUT_COUNT];
    int64_t first_ts, last_ts;
    uint32_t tcp_ports[65536], udp_ports[65536];
    struct str_map sources, services, sensors;
    struct minute_map minutes;
    struct recent recent[REPORT_RECENT_PAYLOADS];
};

struct report *report_new(void)
{
    struct report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->sources.limit = REPORT_MAX_SOURCES;
    r->services.limit = 256;
    r->sensors.limit = 256;
    r->first_ts = INT64_MAX;
    r->last_ts = INT64_MIN;
    return r;
}

void report_free(struct report *r)
{
    if (!r)
        return;
    free(r->sources.slots);
    free(r->services.slots);
    free(r->sensors.slots);
    free(r->minutes.slots);
    free(r);
}

static const char *str_field(const json_t *obj, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : fallback;
}

static int64_t int_field(const json_t *obj, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(obj, key));
}

/* A count from a record read back from JSON: negative values (hostile input) count as 0. */
static uint64_t count_field(const json_t *obj, const char *key)
{
    int64_t v = int_field(obj, key);
    return v > 0 ? (uint64_t)v : 0;
}

static bool bool_field(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

static enum outcome outcome_of(const json_t *rec, const char *proto)
{
    if (strcmp(proto, "udp") == 0)
        return OUT_UDP;
    if (strncmp(proto, "icmp", 4) == 0)
        return OUT_ICMP;
    if (bool_field(rec, "handshake"))
        return OUT_COMPLETED;
    const json_t *tcp = json_object_get(rec, "tcp");
    if (!bool_field(tcp, "syn"))
        return OUT_MIDSTREAM;
    return bool_field(tcp, "client_rst") ? OUT_RESET : OUT_UNANSWERED;
}

/* Keeps the REPORT_RECENT_PAYLOADS latest flows that carried a payload: a new one replaces the oldest kept. */
static void keep_recent(struct report *r, const json_t *rec, const uint8_t *text, size_t text_len)
{
    int64_t ts = int_field(rec, "init_ts");
    const char *time = str_field(rec, "init_time", "");
    struct recent *slot = NULL;
    for (size_t i = 0; i < REPORT_RECENT_PAYLOADS; i++) {
        struct recent *c = &r->recent[i];
        if (!c->used) {
            slot = c;
            break;
        }
        if (!slot || c->init_ts < slot->init_ts || (c->init_ts == slot->init_ts && strcmp(c->time, slot->time) < 0))
            slot = c;
    }
    if (slot->used && (ts < slot->init_ts || (ts == slot->init_ts && strcmp(time, slot->time) <= 0)))
        return;
    slot->used = true;
    slot->init_ts = ts;
    snprintf(slot->time, sizeof slot->time, "%s", time);
    snprintf(slot->src, sizeof slot->src, "%s", str_field(rec, "src_addr", "?"));
    snprintf(slot->proto, sizeof slot->proto, "%s", str_field(rec, "proto", "?"));
    snprintf(slot->service, sizeof slot->service, "%s", str_field(rec, "service", "unknown"));
    snprintf(slot->sensor, sizeof slot->sensor, "%s", str_field(rec, "sensor", ""));
    slot->src_port = int_field(rec, "src_port");
    slot->dst_port = int_field(rec, "dst_port");
    slot->payload_len = int_field(rec, "payload_len");
    slot->handshake = bool_field(rec, "handshake");
    slot->excerpt_len = text_len < sizeof slot->excerpt ? text_len : sizeof slot->excerpt;
    memcpy(slot->excerpt, text, slot->excerpt_len);
}

static int add_fields(struct report *r, const json_t *rec, const uint8_t *text, size_t text_len)
{
    if (!json_is_object(rec))
        return -1;
    const char *proto = str_field(rec, "proto", "?");
    enum outcome o = outcome_of(rec, proto);
    r->flows++;
    r->outcomes[o]++;
    r->packets += count_field(rec, "packets");
    r->bytes += count_field(rec, "bytes");
    int64_t port = int_field(rec, "dst_port");
    if (port >= 0 && port <= 65535) {
        if (strcmp(proto, "tcp") == 0)
            r->tcp_ports[port]++;
        else if (strcmp(proto, "udp") == 0)
            r->udp_ports[port]++;
    }
    int64_t ts = int_field(rec, "init_ts");
    if (ts > 0 && ts < MAX_TS) {
        if (ts < r->first_ts)
            r->first_ts = ts;
        if (ts > r->last_ts)
            r->last_ts = ts;
        if (minute_map_add(&r->minutes, ts / 60, o == OUT_COMPLETED) != 0)
            return -1;
    } else {
        r->timeless++;
    }
    const char *service = str_field(rec, "service", NULL);
    if (str_map_add(&r->sources, str_field(rec, "src_addr", "?")) != 0 ||
        (service && str_map_add(&r->services, service) != 0) ||
        str_map_add(&r->sensors, str_field(rec, "sensor", "(unnamed)")) != 0)
        return -1;
    r->with_service += service != NULL;
    if (int_field(rec, "payload_len") > 0 && text_len > 0) {
        r->with_payload++;
        keep_recent(r, rec, text, text_len);
    }
    return 0;
}

uint64_t report_flows(const struct report *r)
{
    return r->flows;
}

int report_add(struct report *r, const struct record *record)
{
    json_t *rec = record_fields(record);
    int rc = rec ? add_fields(r, rec, record->client_bytes, record->client_len) : -1;
    json_decref(rec);
    return rc;
}

int report_add_json(struct report *r, const json_t *rec)
{
    const json_t *readable = json_object_get(rec, "readable"); /* may hold NULs (JSON_ALLOW_NUL): by length */
    const char *text = json_string_value(readable);
    return add_fields(r, rec, (const uint8_t *)(text ? text : ""), text ? json_string_length(readable) : 0);
}

size_t report_add_json_lines(struct report *r, const char *name, const uint8_t *data, size_t len)
{
    size_t bad = 0, line_no = 0;
    for (size_t pos = 0; pos < len;) {
        const uint8_t *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        line_no++;
        size_t start = pos;
        pos = end + 1;
        while (start < end && (data[start] == ' ' || data[start] == '\t' || data[start] == '\r'))
            start++;
        if (start == end)
            continue;
        json_error_t err;
        json_t *rec = json_loadb((const char *)data + start, end - start, JSON_ALLOW_NUL, &err);
        if (!rec || report_add_json(r, rec) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "lurker-analyzer: %s:%zu: not a JSON record%s%s\n", name, line_no,
                        rec ? "" : ": ", rec ? "" : err.text);
        }
        json_decref(rec);
    }
    if (bad > 5)
        fprintf(stderr, "lurker-analyzer: %s: %zu bad lines in all\n", name, bad);
    return bad;
}

/* ---- HTML output -------------------------------------------------------------------------------------------- */

/* Attacker bytes as HTML text: only printable ASCII goes out, markup characters as entities, everything else as
 * '.', so no byte sequence can open a tag, end an attribute or smuggle an encoding. */
static void put_escaped(FILE *out, const char *s, size_t len, bool keep_newlines)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\r': break;
        case '\n': fputc(keep_newlines ? '\n' : ' ', out); break;
        case '\t': fputs(keep_newlines ? "    " : " ", out); break;
        default: fputc(c >= 0x20 && c <= 0x7e ? (int)c : '.', out);
        }
    }
}

static void put_text(FILE *out, const char *s)
{
    put_escaped(out, s, strlen(s), false);
}

static void format_ts(int64_t ts, const char *fmt, char *buf, size_t len)
{
    time_t t = (time_t)ts;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, len, fmt, &tm) == 0)
        snprintf(buf, len, "?");
}

/* Thousands separated by a thin space: 12 345. */
static const char *number(uint64_t v, char *buf, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t w = 0;
    for (int i = 0; i < n && w + 8 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            w += (size_t)snprintf(buf + w, len - w, "&#8201;");
        buf[w++] = digits[i];
    }
    buf[w] = '\0';
    return buf;
}

static const char *port_name(unsigned port, bool udp)
{
    static const struct { unsigned port; bool udp; const char *name; } known[] = {
        { 21, 0, "ftp" }, { 22, 0, "ssh" }, { 23, 0, "telnet" }, { 25, 0, "smtp" }, { 53, 1, "dns" },
        { 53, 0, "dns" }, { 80, 0, "http" }, { 110, 0, "pop3" }, { 123, 1, "ntp" }, { 135, 0, "msrpc" },
        { 139, 0, "netbios" }, { 143, 0, "imap" }, { 161, 1, "snmp" }, { 443, 0, "https" }, { 445, 0, "smb" },
        { 1433, 0, "mssql" }, { 1900, 1, "ssdp" }, { 2222, 0, "ssh-alt" }, { 2375, 0, "docker" },
        { 3306, 0, "mysql" }, { 3389, 0, "rdp" }, { 5060, 1, "sip" }, { 5060, 0, "sip" }, { 5432, 0, "postgres" },
        { 5555, 0, "adb" }, { 5900, 0, "vnc" }, { 6379, 0, "redis" }, { 8080, 0, "http-alt" },
        { 8088, 0, "hadoop-yarn" }, { 8443, 0, "https-alt" }, { 9200, 0, "elastic" }, { 11211, 1, "memcached" },
        { 27017, 0, "mongodb" },
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (known[i].port == port && known[i].udp == udp)
            return known[i].name;
    return NULL;
}

struct bar {
    char label[KEY_MAX + 24];
    char hint[24];
    uint64_t n;
};

static int bars_desc(const void *a, const void *b)
{
    const struct bar *x = a, *y = b;
    if (x->n != y->n)
        return (x->n < y->n) - (x->n > y->n);
    return strcmp(x->label, y->label);
}

/* Horizontal bars, one row per entry, largest first. */
static void svg_bars(FILE *out, const struct bar *bars, size_t n, const char *colour, const char *aria)
{
    if (n == 0) {
        fputs("<p class=\"empty\">No flows.</p>\n", out);
        return;
    }
    const int row = 26, label_w = 170, width = 560, count_w = 64;
    uint64_t max = 1;
    for (size_t i = 0; i < n; i++)
        if (bars[i].n > max)
            max = bars[i].n;
    fprintf(out, "<svg class=\"chart bars\" role=\"img\" aria-label=\"%s\" viewBox=\"0 0 %d %zu\" width=\"100%%\">\n",
            aria, width, n * row + 4);
    for (size_t i = 0; i < n; i++) {
        double w = (double)(width - label_w - count_w) * (double)bars[i].n / (double)max;
        int y = (int)i * row + 2;
        char num[64];
        fprintf(out, "<g><title>");
        put_text(out, bars[i].label);
        fprintf(out, ": %" PRIu64 " flows</title>", bars[i].n);
        fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"lbl\" text-anchor=\"end\">", label_w - 10, y + 17);
        put_text(out, bars[i].label);
        if (bars[i].hint[0]) {
            fputs(" <tspan class=\"hint\">", out);
            put_text(out, bars[i].hint);
            fputs("</tspan>", out);
        }
        fprintf(out, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" rx=\"3\" fill=\"%s\"/>", label_w,
                y + 4, w < 2 ? 2 : w, row - 8, colour);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"num\">%s</text></g>\n", label_w + (w < 2 ? 2 : w) + 6,
                y + 17, number(bars[i].n, num, sizeof num));
    }
    fputs("</svg>\n", out);
}

static size_t top_of_map(const struct str_map *m, struct bar *bars, size_t max)
{
    size_t k = 0;
    struct bar *all = malloc((m->n ? m->n : 1) * sizeof *all);
    if (!all)
        return 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].n) {
            snprintf(all[k].label, sizeof all[k].label, "%s", m->slots[i].key);
            all[k].hint[0] = '\0';
            all[k++].n = m->slots[i].n;
        }
    qsort(all, k, sizeof *all, bars_desc);
    size_t n = k < max ? k : max;
    memcpy(bars, all, n * sizeof *bars);
    free(all);
    return n;
}

static void write_ports(FILE *out, const struct report *r)
{
    struct bar top[REPORT_TOP_ROWS];
    size_t n = 0;
    for (unsigned p = 0; p < 65536 * 2; p++) {
        bool udp = p >= 65536;
        uint32_t c = udp ? r->udp_ports[p - 65536] : r->tcp_ports[p];
        if (!c)
            continue;
        struct bar b = { .n = c };
        snprintf(b.label, sizeof b.label, "%u/%s", udp ? p - 65536 : p, udp ? "udp" : "tcp");
        const char *name = port_name(udp ? p - 65536 : p, udp);
        snprintf(b.hint, sizeof b.hint, "%s", name ? name : "");
        if (n < REPORT_TOP_ROWS) {
            top[n++] = b;
            qsort(top, n, sizeof *top, bars_desc);
        } else if (bars_desc(&b, &top[n - 1]) < 0) {
            top[n - 1] = b;
            qsort(top, n, sizeof *top, bars_desc);
        }
    }
    svg_bars(out, top, n, "#3b82c4", "flows by destination port");
}

/* A ring of slices (stroke-dasharray on circles), the total in the middle, a legend beside it. */
static void svg_donut(FILE *out, const struct bar *slices, size_t n, const char *const *colours, const char *aria)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += slices[i].n;
    const double radius = 64, circumference = 2 * M_PI * radius;
    char num[64];
    fprintf(out, "<div class=\"donut\"><svg class=\"chart\" role=\"img\" aria-label=\"%s\" viewBox=\"0 0 180 180\" "
                 "width=\"180\" height=\"180\">\n<circle cx=\"90\" cy=\"90\" r=\"64\" fill=\"none\" stroke=\"#eef1f4\" "
                 "stroke-width=\"26\"/>\n", aria);
    double offset = 0;
    for (size_t i = 0; i < n && total; i++) {
        double len = circumference * (double)slices[i].n / (double)total;
        fprintf(out, "<circle cx=\"90\" cy=\"90\" r=\"64\" fill=\"none\" stroke=\"%s\" stroke-width=\"26\" "
                     "stroke-dasharray=\"%.2f %.2f\" stroke-dashoffset=\"%.2f\" transform=\"rotate(-90 90 90)\">"
                     "<title>", colours[i], len, circumference - len, -offset);
        put_text(out, slices[i].label);
        fprintf(out, ": %" PRIu64 "</title></circle>\n", slices[i].n);
        offset += len;
    }
    fprintf(out, "<text x=\"90\" y=\"88\" text-anchor=\"middle\" class=\"big\">%s</text>"
                 "<text x=\"90\" y=\"108\" text-anchor=\"middle\" class=\"lbl\">flows</text></svg>\n<ul class=\"legend\">",
            number(total, num, sizeof num));
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "<li><span class=\"sw\" style=\"background:%s\"></span><span class=\"k\">", colours[i]);
        put_text(out, slices[i].label);
        fprintf(out, "</span><span class=\"v\">%s <small>%.1f%%</small></span></li>", number(slices[i].n, num, sizeof num),
                total ? 100.0 * (double)slices[i].n / (double)total : 0.0);
    }
    fputs("</ul></div>\n", out);
}

static void write_services(FILE *out, const struct report *r)
{
    static const char *const palette[] = { "#3b82c4", "#2f9e6e", "#e8a33d", "#d9534f", "#8c7ae6", "#17a2b8",
                                           "#c2185b", "#6d8f1f", "#8a96a3" };
    enum { SLICES = sizeof palette / sizeof *palette };
    struct bar top[SLICES + 1];
    size_t n = top_of_map(&r->services, top, SLICES + 1);
    if (n > SLICES) { /* the rest as one slice */
        uint64_t shown = 0, all = 0;
        for (size_t i = 0; i < SLICES - 1; i++)
            shown += top[i].n;
        for (size_t i = 0; i < r->services.cap; i++)
            all += r->services.slots[i].n;
        top[SLICES - 1].n = all - shown;
        snprintf(top[SLICES - 1].label, sizeof top[SLICES - 1].label, "other");
        n = SLICES;
    }
    svg_donut(out, top, n, palette, "flows by service");
}

static void write_outcomes(FILE *out, const struct report *r)
{
    struct bar slices[OUT_COUNT];
    const char *colours[OUT_COUNT];
    size_t n = 0;
    for (int o = 0; o < OUT_COUNT; o++) {
        if (!r->outcomes[o])
            continue;
        snprintf(slices[n].label, sizeof slices[n].label, "%s", outcome_names[o]);
        slices[n].n = r->outcomes[o];
        colours[n++] = outcome_colours[o];
    }
    svg_donut(out, slices, n, colours, "flows by handshake outcome");
}

/* The bucket: the smallest of a few round widths that fits the span in TIME_BUCKETS_MAX bars. */
static int64_t bucket_width(int64_t span, const char **unit)
{
    static const struct { int64_t seconds; const char *unit; } widths[] = {
        { 60, "minute" }, { 300, "5 minutes" }, { 900, "15 minutes" }, { 3600, "hour" }, { 6 * 3600, "6 hours" },
        { 86400, "day" }, { 7 * 86400, "week" },
    };
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++)
        if (span / widths[i].seconds < TIME_BUCKETS_MAX) {
            *unit = widths[i].unit;
            return widths[i].seconds;
        }
    *unit = "bucket";
    return span / (TIME_BUCKETS_MAX - 1) + 1;
}

/* Axis labels at round times: the smallest step that gives at most 9 labels over the span. */
static int64_t label_width(int64_t span)
{
    static const int64_t steps[] = { 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
                                     2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400 };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        if (span / steps[i] <= 9)
            return steps[i];
    return (span / 9 / 86400 + 1) * 86400;
}

static void write_timeline(FILE *out, const struct report *r)
{
    if (r->last_ts < r->first_ts) {
        fputs("<p class=\"empty\">No timestamps.</p>\n", out);
        return;
    }
    const char *unit;
    int64_t width = bucket_width(r->last_ts - r->first_ts, &unit);
    int64_t start = r->first_ts - r->first_ts % width;
    /* span / width < TIME_BUCKETS_MAX, plus the partial buckets at both ends */
    enum { BARS_MAX = TIME_BUCKETS_MAX + 2 };
    int64_t nb64 = (r->last_ts - start) / width + 1;
    size_t nb = nb64 > BARS_MAX ? BARS_MAX : (size_t)nb64;
    uint64_t completed[BARS_MAX] = { 0 }, other[BARS_MAX] = { 0 };
    for (size_t i = 0; i < r->minutes.cap; i++) {
        const struct minute_count *m = &r->minutes.slots[i];
        if (m->minute < 0)
            continue;
        int64_t b = (m->minute * 60 - start) / width;
        if (b < 0)
            b = 0;
        if ((size_t)b >= nb)
            b = (int64_t)nb - 1;
        completed[b] += m->completed;
        other[b] += m->other;
    }
    uint64_t max = 1;
    for (size_t b = 0; b < nb; b++)
        if (completed[b] + other[b] > max)
            max = completed[b] + other[b];
    const int W = 1160, H = 260, left = 56, right = 12, top = 14, bottom = 40;
    double plot_w = W - left - right, plot_h = H - top - bottom, bw = plot_w / (double)nb;
    fprintf(out, "<p class=\"sub\">Flows per %s (UTC); <span class=\"sw\" style=\"background:#2f9e6e\"></span>"
                 "handshake completed, <span class=\"sw\" style=\"background:#e8a33d\"></span>no completed handshake "
                 "(scans, spoofed SYNs, UDP, ICMP)</p>\n",
            unit);
    fprintf(out, "<svg class=\"chart timeline\" role=\"img\" aria-label=\"flows over time\" viewBox=\"0 0 %d %d\" "
                 "width=\"100%%\">\n", W, H);
    for (int g = 0; g <= 4; g++) { /* grid lines and the y axis */
        double y = top + plot_h - plot_h * g / 4.0;
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                     "<text x=\"%d\" y=\"%.1f\" class=\"axis\" text-anchor=\"end\">%.0f</text>\n",
                left, W - right, y, y, left - 8, y + 4, (double)max * g / 4.0);
    }
    bool long_span = r->last_ts - r->first_ts >= 2 * 86400;
    int64_t label_step = label_width((int64_t)nb * width);
    /* the first bar gets a label too when the first round time is far from it (or absent, for a short span) */
    size_t first_round = (size_t)(((label_step - start % label_step) % label_step) / width);
    bool label_first = first_round >= nb / 9 + 1;
    for (size_t b = 0; b < nb; b++) {
        double x = left + bw * (double)b, gap = bw > 4 ? bw * 0.15 : 0;
        double h_other = plot_h * (double)other[b] / (double)max, h_done = plot_h * (double)completed[b] / (double)max;
        char when[40];
        format_ts(start + (int64_t)b * width, width >= 86400 ? "%Y-%m-%d" : "%Y-%m-%d %H:%M", when, sizeof when);
        fprintf(out, "<g><title>%s: %" PRIu64 " flows (%" PRIu64 " with a completed handshake)</title>", when,
                completed[b] + other[b], completed[b]);
        if (completed[b])
            fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2f9e6e\"/>", x + gap / 2,
                    top + plot_h - h_done, bw - gap, h_done);
        if (other[b])
            fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#e8a33d\"/>", x + gap / 2,
                    top + plot_h - h_done - h_other, bw - gap, h_other);
        fputs("</g>\n", out);
        if ((start + (int64_t)b * width) % label_step == 0 || (b == 0 && label_first)) {
            char label[40];
            format_ts(start + (int64_t)b * width, long_span ? "%m-%d %H:%M" : "%H:%M", label, sizeof label);
            fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">%s</text>\n", x + bw / 2,
                    H - bottom + 18, label);
        }
    }
    fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"base\"/>\n</svg>\n", left, W - right,
            top + plot_h, top + plot_h);
}

static int recent_desc(const void *a, const void *b)
{
    const struct recent *x = a, *y = b;
    if (x->init_ts != y->init_ts)
        return (x->init_ts < y->init_ts) - (x->init_ts > y->init_ts);
    return -strcmp(x->time, y->time);
}

static void write_recent(FILE *out, const struct report *r)
{
    struct recent *rows = malloc(sizeof r->recent);
    if (!rows)
        return;
    size_t n = 0;
    for (size_t i = 0; i < REPORT_RECENT_PAYLOADS; i++)
        if (r->recent[i].used)
            rows[n++] = r->recent[i];
    qsort(rows, n, sizeof *rows, recent_desc);
    if (n == 0)
        fputs("<p class=\"empty\">No flow carried a payload.</p>\n", out);
    for (size_t i = 0; i < n; i++) {
        const struct recent *p = &rows[i];
        char num[64];
        fputs("<article class=\"payload\"><header><time>", out);
        put_text(out, p->time);
        fputs("</time><span class=\"addr\">", out);
        put_text(out, p->src);
        fprintf(out, ":%" PRId64 "</span><span class=\"arrow\">&#8594;</span><span class=\"port\">%" PRId64 "/",
                p->src_port, p->dst_port);
        put_text(out, p->proto);
        fputs("</span><span class=\"tag\">", out);
        put_text(out, p->service);
        fprintf(out, "</span>%s<span class=\"len\">%s bytes</span>",
                p->handshake ? "<span class=\"tag ok\">handshake</span>" : "", number((uint64_t)(p->payload_len > 0 ? p->payload_len : 0), num, sizeof num));
        if (p->sensor[0]) {
            fputs("<span class=\"sensor\">", out);
            put_text(out, p->sensor);
            fputs("</span>", out);
        }
        fputs("</header><pre>", out);
        size_t shown = p->excerpt_len;
        while (shown > 0 && (p->excerpt[shown - 1] == '\n' || p->excerpt[shown - 1] == '\r'))
            shown--; /* a request's closing blank line would only pad the box */
        put_escaped(out, p->excerpt, shown, true);
        if ((int64_t)p->excerpt_len < p->payload_len)
            fputs("<span class=\"more\"> &#8230; (cut)</span>", out);
        fputs("</pre></article>\n", out);
    }
    free(rows);
}

static const char STYLE[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "background:#f3f5f8;color:#1f2a37}"
    ".top{background:linear-gradient(120deg,#0f1b2d,#1d3557);color:#fff;padding:26px 36px 22px}"
    ".top h1{margin:0;font-size:24px;letter-spacing:.3px}.top h1 b{color:#7cc4ff}"
    ".top p{margin:6px 0 0;color:#b9c7d8}"
    "main{padding:22px 36px 36px;max-width:1320px;margin:0 auto}"
    ".kpis{display:grid;grid-template-columns:repeat(5,1fr);gap:14px;margin-bottom:18px}"
    ".kpi{background:#fff;border-radius:10px;padding:14px 18px;box-shadow:0 1px 3px rgba(15,27,45,.08)}"
    ".kpi .v{font-size:26px;font-weight:650}.kpi .l{color:#667085;font-size:12px;text-transform:uppercase;"
    "letter-spacing:.6px}"
    ".card{background:#fff;border-radius:10px;padding:16px 20px 18px;margin-bottom:18px;"
    "box-shadow:0 1px 3px rgba(15,27,45,.08)}"
    ".card h2{font-size:15px;margin:0 0 10px;color:#0f1b2d}"
    ".grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}.grid .card{margin-bottom:0}"
    ".row{margin-bottom:18px}"
    ".sub{color:#667085;margin:-4px 0 8px;font-size:12.5px}"
    "svg.chart text{font-size:12px;fill:#344054}svg .lbl{fill:#344054}svg .hint{fill:#98a2b3}"
    "svg .num{fill:#667085;font-size:11.5px}svg .axis{fill:#98a2b3;font-size:11px}"
    "svg .grid{stroke:#eef1f4}svg .base{stroke:#98a2b3}svg .big{font-size:24px;font-weight:650;fill:#0f1b2d}"
    "svg rect:hover{opacity:.8}"
    ".donut{display:flex;align-items:center;gap:22px}"
    ".legend{list-style:none;margin:0;padding:0;flex:1}"
    ".legend li{display:flex;align-items:center;gap:8px;padding:4px 0;border-bottom:1px solid #f0f2f5}"
    ".legend .k{flex:1}.legend .v{font-variant-numeric:tabular-nums}.legend small{color:#98a2b3}"
    ".sw{display:inline-block;width:11px;height:11px;border-radius:3px;margin:0 5px 0 2px;vertical-align:-1px}"
    ".payload{border:1px solid #e4e7ec;border-radius:8px;margin:10px 0;overflow:hidden}"
    ".payload header{display:flex;flex-wrap:wrap;gap:10px;align-items:center;background:#f8fafc;padding:7px 12px;"
    "font-size:12.5px;border-bottom:1px solid #e4e7ec}"
    ".payload time{color:#667085;font-variant-numeric:tabular-nums}.payload .addr{font-weight:600}"
    ".payload .arrow{color:#98a2b3}.payload .len{margin-left:auto;color:#667085}"
    ".payload .sensor{color:#98a2b3}"
    ".tag{background:#e8f1fb;color:#1d5fa0;border-radius:10px;padding:1px 9px;font-size:11.5px;font-weight:600}"
    ".tag.ok{background:#e6f4ee;color:#1f7a52}"
    ".payload pre{margin:0;padding:10px 12px;max-height:220px;overflow:auto;background:#0f1b2d;color:#d5e3f0;"
    "font:12px/1.45 ui-monospace,'DejaVu Sans Mono',Menlo,monospace;white-space:pre-wrap;word-break:break-all}"
    ".more{color:#7cc4ff}.empty{color:#98a2b3}"
    "footer{color:#98a2b3;font-size:12px;text-align:center;padding:0 0 24px}"
    "@media(max-width:900px){.grid,.kpis{grid-template-columns:1fr}}";

static void write_kpi(FILE *out, const char *value, const char *label)
{
    fprintf(out, "<div class=\"kpi\"><div class=\"v\">%s</div><div class=\"l\">%s</div></div>\n", value, label);
}

int report_write(const struct report *r, FILE *out, size_t inputs)
{
    char first[40] = "-", last[40] = "-", now_s[40], num[64], num2[64], pct[32];
    if (r->last_ts >= r->first_ts) {
        format_ts(r->first_ts, "%Y-%m-%d %H:%M", first, sizeof first);
        format_ts(r->last_ts, "%Y-%m-%d %H:%M", last, sizeof last);
    }
    format_ts((int64_t)time(NULL), "%Y-%m-%d %H:%M:%S UTC", now_s, sizeof now_s);
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                 "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
                 "img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
                 "<title>lurker report: %" PRIu64 " flows</title>\n<style>%s</style></head>\n<body>\n",
            r->flows, STYLE);
    fprintf(out, "<div class=\"top\"><h1><b>lurker</b> honeypot report</h1><p>%s flows from %zu sources, %s to %s "
                 "UTC, %zu sensor%s</p></div>\n<main>\n",
            number(r->flows, num, sizeof num), r->sources.n, first, last, r->sensors.n, r->sensors.n == 1 ? "" : "s");
    fputs("<div class=\"kpis\" id=\"kpis\">\n", out);
    write_kpi(out, number(r->flows, num, sizeof num), "flows");
    write_kpi(out, number(r->sources.n, num, sizeof num), "distinct sources");
    snprintf(pct, sizeof pct, "%.0f%%", r->flows ? 100.0 * (double)r->outcomes[OUT_COMPLETED] / (double)r->flows : 0);
    write_kpi(out, pct, "handshakes completed");
    write_kpi(out, number(r->with_payload, num, sizeof num), "flows with payload");
    write_kpi(out, number(r->packets, num, sizeof num), "packets");
    fputs("</div>\n<section class=\"card row\" id=\"timeline\"><h2>Flows over time</h2>\n", out);
    write_timeline(out, r);
    fputs("</section>\n<div class=\"grid row\"><section class=\"card\" id=\"ports\"><h2>Top destination ports</h2>\n",
          out);
    write_ports(out, r);
    fputs("</section>\n<section class=\"card\" id=\"sources\"><h2>Top sources</h2>\n", out);
    struct bar top[REPORT_TOP_ROWS];
    svg_bars(out, top, top_of_map(&r->sources, top, REPORT_TOP_ROWS), "#8c7ae6", "flows by source");
    if (r->sources.dropped)
        fprintf(out, "<p class=\"sub\">%" PRIu64 " flows from sources beyond the first %zu not counted here.</p>\n",
                r->sources.dropped, r->sources.n);
    fprintf(out, "</section></div>\n<div class=\"grid row\"><section class=\"card\" id=\"services\"><h2>Services "
                 "seen <small class=\"sub\">(flows that sent bytes, recognised from content, not port; %s flows sent "
                 "none)</small></h2>\n", number(r->flows - r->with_service, num, sizeof num));
    write_services(out, r);
    fputs("</section>\n<section class=\"card\" id=\"handshakes\"><h2>Handshake completed vs not</h2>\n", out);
    write_outcomes(out, r);
    fprintf(out, "</section></div>\n<section class=\"card\" id=\"payloads\"><h2>Most recent payloads "
                 "<small class=\"sub\">(%s of %s flows carried one; printable ASCII shown, other bytes as .)</small>"
                 "</h2>\n", number(r->with_payload, num, sizeof num), number(r->flows, num2, sizeof num2));
    write_recent(out, r);
    fprintf(out, "</section>\n</main>\n<footer>lurker-analyzer --report, %zu input%s, generated %s</footer>\n"
                 "</body></html>\n", inputs, inputs == 1 ? "" : "s", now_s);
    return ferror(out) ? -1 : 0;
}
