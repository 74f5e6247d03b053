/* lurker.yaml loader. One table (config_keys) says, for every key: where it lives, its type, its range and where
 * its value goes. The walk over libyaml's document tree checks each node against that table, so every error carries
 * the node's own line and column. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <yaml.h>

#include "hex.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define PORT_LIST_MAX 4096

enum key_type {
    KT_SECTION,
    KT_STRING,
    KT_UINT,     /* uint32_t field */
    KT_SIZE,     /* uint64_t field, with a unit */
    KT_DURATION, /* uint32_t seconds, with a unit */
    KT_BOOL,
    KT_ENUM,     /* int-sized enum field */
    KT_ADDRESSES,
    KT_PORTS,
    KT_BANNERS,
    KT_RATE,     /* uint64_t field, plain number */
};

enum string_rule { SR_ANY, SR_ID, SR_SHM_NAME, SR_PATH, SR_KEY_TEMPLATE, SR_FLOW_KEY_TEMPLATE, SR_SSE, SR_ENDPOINT };

struct config_key {
    const char *section; /* "" for top level */
    const char *name;
    enum key_type type;
    size_t offset;
    size_t size;          /* strings: buffer size */
    uint64_t min, max;    /* numbers */
    const char *const *choices; /* enums: NULL-terminated names, value = index */
    enum string_rule rule;
};

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const personas[] = {"linux", "windows", "freebsd", NULL};
static const char *const firewalls[] = {"output", "ingress", "none", NULL};
static const char *const engines[] = {"raw", "tc", "auto", NULL};
static const char *const storages[] = {"local", "s3", NULL};
static const char *const metrics_backends[] = {"none", "cloudwatch", NULL};

#define OFF(field) offsetof(struct lurker_config, field)
#define STR(section, name, field, rule) {section, name, KT_STRING, OFF(field), sizeof(((struct lurker_config *)0)->field), 0, 0, NULL, rule}
#define NUM(section, name, type, field, lo, hi) {section, name, type, OFF(field), sizeof(((struct lurker_config *)0)->field), lo, hi, NULL, SR_ANY}
#define ENUM(section, name, field, names) {section, name, KT_ENUM, OFF(field), sizeof(int), 0, 0, names, SR_ANY}
#define SECTION(name) {"", name, KT_SECTION, 0, 0, 0, 0, NULL, SR_ANY}

#define KIB 1024ULL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)

static const struct config_key config_keys[] = {
    STR("", "sensor_id", sensor_id, SR_ID),
    ENUM("", "log_level", log_level, log_levels),
    STR("", "interface", interface, SR_ANY),
    {"", "addresses", KT_ADDRESSES, 0, 0, 0, 0, NULL, SR_ANY},
    STR("", "user", user, SR_ANY),
    {"", "keep_identity", KT_BOOL, OFF(keep_identity), sizeof(bool), 0, 0, NULL, SR_ANY},
    STR("", "shm_name", shm_name, SR_SHM_NAME),
    NUM("", "queue_slots", KT_UINT, queue_slots, 64, 1048576),
    SECTION("responder"),
    {"responder", "ports", KT_PORTS, 0, 0, 0, 0, NULL, SR_ANY},
    {"responder", "exclude_ports", KT_PORTS, 0, 0, 0, 0, NULL, SR_ANY},
    ENUM("responder", "persona", responder.persona, personas),
    NUM("responder", "rate_limit", KT_RATE, responder.global_rate, 1, 100000000),
    NUM("responder", "burst", KT_RATE, responder.global_burst, 1, 100000000),
    NUM("responder", "source_rate_limit", KT_RATE, responder.source_rate, 1, 100000000),
    NUM("responder", "source_burst", KT_RATE, responder.source_burst, 1, 100000000),
    NUM("responder", "source_buckets", KT_UINT, responder.source_buckets, 1024, 16777216),
    ENUM("responder", "firewall", responder.firewall, firewalls),
    ENUM("responder", "engine", responder.engine, engines),
    {"responder", "ack_data", KT_BOOL, OFF(responder.ack_data), sizeof(bool), 0, 0, NULL, SR_ANY},
    {"responder", "banners", KT_BANNERS, 0, 0, 0, 0, NULL, SR_ANY},
    SECTION("capturer"),
    NUM("capturer", "snaplen", KT_UINT, capturer.snaplen, 64, 262144),
    NUM("capturer", "buffer_size", KT_SIZE, capturer.buffer_size, 1 * MIB, 2 * GIB),
    NUM("capturer", "flow_timeout", KT_DURATION, capturer.flow_timeout, 1, 3600),
    NUM("capturer", "max_flow_age", KT_DURATION, capturer.max_flow_age, 1, 86400),
    NUM("capturer", "max_flows", KT_UINT, capturer.max_flows, 16, 10000000),
    NUM("capturer", "max_flow_packets", KT_UINT, capturer.max_flow_packets, 1, 10000000),
    NUM("capturer", "max_flow_bytes", KT_SIZE, capturer.max_flow_bytes, 1 * KIB, 1 * GIB),
    NUM("capturer", "memory_limit", KT_SIZE, capturer.memory_limit, 1 * MIB, 16 * GIB),
    {"capturer", "journal", KT_BOOL, OFF(capturer.journal), sizeof(bool), 0, 0, NULL, SR_ANY},
    NUM("capturer", "journal_max", KT_SIZE, capturer.journal_max, 1 * MIB, 1024 * GIB),
    NUM("capturer", "batch_interval", KT_DURATION, capturer.batch_interval, 0, 3600),
    NUM("capturer", "batch_max_flows", KT_UINT, capturer.batch_max_flows, 1, 1048576),
    NUM("capturer", "batch_max_bytes", KT_SIZE, capturer.batch_max_bytes, 1 * MIB, 1 * GIB),
    {"capturer", "sched_idle", KT_BOOL, OFF(capturer.sched_idle), sizeof(bool), 0, 0, NULL, SR_ANY},
    SECTION("spool"),
    STR("spool", "directory", spool.directory, SR_PATH),
    NUM("spool", "quota", KT_SIZE, spool.quota, 1 * MIB, 1024 * GIB),
    SECTION("shipper"),
    ENUM("shipper", "storage", shipper.storage, storages),
    STR("shipper", "archive_dir", shipper.archive_dir, SR_PATH),
    STR("shipper", "key_template", shipper.key_template, SR_FLOW_KEY_TEMPLATE),
    STR("shipper", "batch_key_template", shipper.batch_key_template, SR_KEY_TEMPLATE),
    NUM("shipper", "concurrency", KT_UINT, shipper.concurrency, 1, 64),
    NUM("shipper", "max_retries", KT_UINT, shipper.max_retries, 0, 100),
    NUM("shipper", "failed_retry_interval", KT_DURATION, shipper.failed_retry_interval, 10, 86400),
    ENUM("shipper", "metrics", shipper.metrics, metrics_backends),
    NUM("shipper", "metrics_interval", KT_DURATION, shipper.metrics_interval, 10, 3600),
    STR("shipper", "metrics_namespace", shipper.metrics_namespace, SR_ID),
    STR("shipper", "metrics_endpoint", shipper.metrics_endpoint, SR_ENDPOINT),
    STR("shipper", "prometheus_file", shipper.prometheus_file, SR_PATH),
    {"shipper", "sched_idle", KT_BOOL, OFF(shipper.sched_idle), sizeof(bool), 0, 0, NULL, SR_ANY},
    {"shipper", "s3", KT_SECTION, 0, 0, 0, 0, NULL, SR_ANY},
    STR("shipper.s3", "bucket", shipper.s3.bucket, SR_ANY),
    STR("shipper.s3", "region", shipper.s3.region, SR_ID),
    STR("shipper.s3", "prefix", shipper.s3.prefix, SR_KEY_TEMPLATE),
    STR("shipper.s3", "endpoint", shipper.s3.endpoint, SR_ENDPOINT),
    {"shipper.s3", "path_style", KT_BOOL, OFF(shipper.s3.path_style), sizeof(bool), 0, 0, NULL, SR_ANY},
    STR("shipper.s3", "sse", shipper.s3.sse, SR_SSE),
    STR("shipper.s3", "profile", shipper.s3.profile, SR_ANY),
};
#define NKEYS (sizeof config_keys / sizeof config_keys[0])

static const char *const template_fields[] = {"sensor", "yyyy", "mm", "dd", "hh", "ts", "us", "src",
                                              "dst", "sport", "dport", "proto", "seq", NULL};
/* What tells two flows apart (the spool name's first_us, protocol and tuple): a flow key without one of them can be
 * shared by two flows, and S3 or the archive's rename() would keep only the last. */
static const char *const flow_key_fields[] = {"{ts}", "{us}", "{proto}", "{src}", "{dst}", "{sport}", "{dport}", NULL};

const char *persona_name(enum persona p)
{
    return (unsigned)p < 3 ? personas[p] : "?";
}

const char *log_level_name(enum log_level l)
{
    return (unsigned)l < 4 ? log_levels[l] : "?";
}

static void port_set_fill(struct port_set *s, bool value)
{
    memset(s->bits, value ? 0xff : 0, sizeof s->bits);
}

static void port_set_put(struct port_set *s, unsigned port, bool value)
{
    if (value)
        s->bits[port >> 3] |= (uint8_t)(1u << (port & 7));
    else
        s->bits[port >> 3] &= (uint8_t)~(1u << (port & 7));
}

void config_defaults(struct lurker_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->sensor_id, sizeof cfg->sensor_id, "sensor-1");
    cfg->log_level = LOG_LEVEL_INFO;
    snprintf(cfg->user, sizeof cfg->user, "lurker");
    snprintf(cfg->shm_name, sizeof cfg->shm_name, "/lurker");
    cfg->queue_slots = 16384;

    port_set_fill(&cfg->responder.ports, true);
    cfg->responder.persona = PERSONA_LINUX;
    cfg->responder.global_rate = 100000;
    cfg->responder.global_burst = 20000;
    cfg->responder.source_rate = 1000;
    cfg->responder.source_burst = 2000;
    cfg->responder.source_buckets = 65536;
    cfg->responder.firewall = FIREWALL_OUTPUT;
    cfg->responder.engine = ENGINE_RAW;
    cfg->responder.ack_data = true;

    cfg->capturer.snaplen = 65535;
    cfg->capturer.buffer_size = 64 * MIB;
    cfg->capturer.flow_timeout = 60;
    cfg->capturer.max_flow_age = 600;
    cfg->capturer.max_flows = 100000;
    cfg->capturer.max_flow_packets = 10000;
    cfg->capturer.max_flow_bytes = 1 * MIB;
    cfg->capturer.memory_limit = 256 * MIB;
    cfg->capturer.journal = true;
    cfg->capturer.journal_max = 1 * GIB;
    cfg->capturer.sched_idle = true;
    cfg->capturer.batch_interval = 60;
    cfg->capturer.batch_max_flows = 100000;
    cfg->capturer.batch_max_bytes = 64 * MIB;

    snprintf(cfg->spool.directory, sizeof cfg->spool.directory, "/var/spool/lurker");
    cfg->spool.quota = 1 * GIB;

    cfg->shipper.storage = STORAGE_LOCAL;
    snprintf(cfg->shipper.archive_dir, sizeof cfg->shipper.archive_dir, "/var/lib/lurker/archive");
    snprintf(cfg->shipper.key_template, sizeof cfg->shipper.key_template,
             "pcap/{yyyy}/{mm}/{dd}/{hh}/{ts}.{us}_{proto}_{src}_{dst}_{sport}_{dport}.pcap");
    snprintf(cfg->shipper.batch_key_template, sizeof cfg->shipper.batch_key_template,
             "pcap/{yyyy}/{mm}/{dd}/{hh}/{ts}_batch_{sensor}_{seq}.pcap");
    cfg->shipper.concurrency = 4;
    cfg->shipper.max_retries = 8;
    cfg->shipper.failed_retry_interval = 900;
    cfg->shipper.metrics = METRICS_NONE;
    cfg->shipper.metrics_interval = 60;
    cfg->shipper.sched_idle = true;
    snprintf(cfg->shipper.metrics_namespace, sizeof cfg->shipper.metrics_namespace, "Lurker");
}

/* ---- error reporting ---------------------------------------------------------------------------------------- */

struct loader {
    const char *name;
    struct lurker_config *cfg;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    bool ports_seen, exclude_seen;
    struct port_set exclude;
    yaml_mark_t mark_addresses, mark_interface, mark_max_flow_age, mark_bucket, mark_root, mark_user;
    bool seen_addresses;
};

static int fail_at(struct loader *ld, yaml_mark_t mark, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(struct loader *ld, yaml_mark_t mark, const char *fmt, ...)
{
    int n = snprintf(ld->err, ld->errlen, "%s:%zu:%zu: ", ld->name, mark.line + 1, mark.column + 1);
    if (n < 0 || (size_t)n >= ld->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *node_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE: return "a scalar";
    default: return "nothing";
    }
}

/* Scalar text, NUL-terminated copy bounded by outlen; -1 if it does not fit or holds a NUL. */
static int scalar_text(const yaml_node_t *node, char *out, size_t outlen)
{
    size_t len = node->data.scalar.length;
    if (len >= outlen || memchr(node->data.scalar.value, '\0', len) != NULL)
        return -1;
    memcpy(out, node->data.scalar.value, len);
    out[len] = '\0';
    return 0;
}

static int want_scalar(struct loader *ld, const char *key, yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE)
        return fail_at(ld, node->start_mark, "'%s' must be a single value, not %s", key, node_kind(node));
    return 0;
}

/* ---- value parsers ------------------------------------------------------------------------------------------ */

static int parse_u64(const char *text, uint64_t *out, const char **rest)
{
    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    *out = v;
    *rest = end;
    return 0;
}

static int parse_size(const char *text, uint64_t *out)
{
    static const struct { const char *unit; uint64_t mult; } units[] = {
        {"", 1}, {"B", 1}, {"KiB", KIB}, {"MiB", MIB}, {"GiB", GIB}, {"TiB", 1024 * GIB},
    };
    uint64_t v;
    const char *rest;
    if (parse_u64(text, &v, &rest) != 0)
        return -1;
    while (*rest == ' ')
        rest++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(rest, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return -1;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

static int parse_duration(const char *text, uint64_t *out)
{
    uint64_t v;
    const char *rest;
    if (parse_u64(text, &v, &rest) != 0 || v > UINT32_MAX)
        return -1;
    uint64_t mult = 0;
    if (strcmp(rest, "") == 0 || strcmp(rest, "s") == 0)
        mult = 1;
    else if (strcmp(rest, "m") == 0)
        mult = 60;
    else if (strcmp(rest, "h") == 0)
        mult = 3600;
    else
        return -1;
    *out = v * mult;
    return 0;
}

static bool key_template_ok(const char *s, const char **why)
{
    if (s[0] == '/') {
        *why = "must not start with '/'";
        return false;
    }
    if (strstr(s, "..") != NULL) {
        *why = "must not contain '..'";
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (*c == '{') {
            const char *close = strchr(c, '}');
            if (!close) {
                *why = "has a '{' without '}'";
                return false;
            }
            bool known = false;
            for (const char *const *f = template_fields; *f; f++)
                if ((size_t)(close - c - 1) == strlen(*f) && strncmp(c + 1, *f, strlen(*f)) == 0)
                    known = true;
            if (!known) {
                *why = "has an unknown field (known: {sensor} {yyyy} {mm} {dd} {hh} {ts} {us} {src} {dst} "
                       "{sport} {dport} {proto} {seq})";
                return false;
            }
            c = close;
            continue;
        }
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.' || *c == '/')) {
            *why = "may contain only [A-Za-z0-9-._/] and {fields}";
            return false;
        }
    }
    return true;
}

static bool string_rule_ok(enum string_rule rule, const char *s, const char **why)
{
    switch (rule) {
    case SR_ANY:
    case SR_PATH:
        return true;
    case SR_ID:
        for (const char *c = s; *c; c++) {
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  *c == '-' || *c == '_' || *c == '.')) {
                *why = "may contain only letters, digits, '-', '_' and '.'";
                return false;
            }
        }
        return true;
    case SR_SHM_NAME:
        if (s[0] != '/' || s[1] == '\0' || strchr(s + 1, '/') != NULL) {
            *why = "must be '/' followed by a name without '/'";
            return false;
        }
        return true;
    case SR_SSE:
        if (strcmp(s, "") && strcmp(s, "AES256") && strcmp(s, "aws:kms")) {
            *why = "must be \"\", AES256 or aws:kms";
            return false;
        }
        return true;
    case SR_ENDPOINT:
        if (s[0] && strncmp(s, "http://", 7) && strncmp(s, "https://", 8)) {
            *why = "must start with http:// or https://";
            return false;
        }
        return true;
    case SR_KEY_TEMPLATE:
        return key_template_ok(s, why);
    case SR_FLOW_KEY_TEMPLATE:
        if (!key_template_ok(s, why))
            return false;
        for (const char *const *f = flow_key_fields; *f; f++)
            if (!strstr(s, *f)) {
                *why = "must contain {ts} {us} {proto} {src} {dst} {sport} {dport}: without one of them two flows "
                       "could share a key, and the store would keep only the last";
                return false;
            }
        return true;
    }
    return true;
}

static int set_string(struct loader *ld, const struct config_key *k, yaml_node_t *node)
{
    if (want_scalar(ld, k->name, node) != 0)
        return -1;
    char *dst = (char *)ld->cfg + k->offset;
    if (scalar_text(node, dst, k->size) != 0)
        return fail_at(ld, node->start_mark, "'%s' is longer than %zu characters", k->name, k->size - 1);
    const char *why = NULL;
    if (!string_rule_ok(k->rule, dst, &why))
        return fail_at(ld, node->start_mark, "'%s' %s", k->name, why);
    if (k->rule == SR_ID && strcmp(k->name, "sensor_id") == 0 && dst[0] == '\0')
        return fail_at(ld, node->start_mark, "'sensor_id' must not be empty");
    return 0;
}

static int set_number(struct loader *ld, const struct config_key *k, yaml_node_t *node)
{
    if (want_scalar(ld, k->name, node) != 0)
        return -1;
    char text[64];
    if (scalar_text(node, text, sizeof text) != 0)
        return fail_at(ld, node->start_mark, "'%s' is not a number", k->name);
    uint64_t v;
    const char *rest = "";
    int rc;
    const char *expect;
    switch (k->type) {
    case KT_SIZE:
        rc = parse_size(text, &v);
        expect = "a size such as 64MiB (units B, KiB, MiB, GiB, TiB)";
        break;
    case KT_DURATION:
        rc = parse_duration(text, &v);
        expect = "a duration such as 60s, 10m or 1h";
        break;
    default:
        rc = parse_u64(text, &v, &rest);
        if (rc == 0 && *rest != '\0')
            rc = -1;
        expect = "a whole number";
        break;
    }
    if (rc != 0)
        return fail_at(ld, node->start_mark, "'%s' must be %s, not '%s'", k->name, expect, text);
    const char *unit = k->type == KT_DURATION ? "s" : "";
    if (v < k->min || v > k->max)
        return fail_at(ld, node->start_mark, "'%s' is %s; it must be between %llu%s and %llu%s", k->name, text,
                       (unsigned long long)k->min, unit, (unsigned long long)k->max, unit);
    void *dst = (char *)ld->cfg + k->offset;
    if (k->size == sizeof(uint32_t)) {
        uint32_t v32 = (uint32_t)v;
        memcpy(dst, &v32, sizeof v32);
    } else {
        memcpy(dst, &v, sizeof v);
    }
    return 0;
}

static int set_bool(struct loader *ld, const struct config_key *k, yaml_node_t *node)
{
    if (want_scalar(ld, k->name, node) != 0)
        return -1;
    char text[16];
    bool v;
    if (scalar_text(node, text, sizeof text) != 0)
        text[0] = '\0';
    if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0)
        v = true;
    else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0)
        v = false;
    else
        return fail_at(ld, node->start_mark, "'%s' must be true or false", k->name);
    memcpy((char *)ld->cfg + k->offset, &v, sizeof v);
    return 0;
}

static int set_enum(struct loader *ld, const struct config_key *k, yaml_node_t *node)
{
    if (want_scalar(ld, k->name, node) != 0)
        return -1;
    char text[32];
    if (scalar_text(node, text, sizeof text) == 0) {
        for (int i = 0; k->choices[i]; i++) {
            if (strcmp(text, k->choices[i]) == 0) {
                memcpy((char *)ld->cfg + k->offset, &i, sizeof i);
                return 0;
            }
        }
    } else {
        snprintf(text, sizeof text, "(too long)");
    }
    char list[128] = "";
    size_t used = 0;
    for (int i = 0; k->choices[i]; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", k->choices[i]);
        if (w > 0 && (size_t)w < sizeof list - used)
            used += (size_t)w;
    }
    return fail_at(ld, node->start_mark, "'%s' is '%s'; it must be one of: %s", k->name, text, list);
}

static int set_addresses(struct loader *ld, yaml_node_t *node)
{
    ld->seen_addresses = true;
    ld->mark_addresses = node->start_mark;
    if (node->type != YAML_SEQUENCE_NODE)
        return fail_at(ld, node->start_mark, "'addresses' must be a list of IP addresses or prefixes");
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > CONFIG_MAX_ADDRESSES)
        return fail_at(ld, node->start_mark, "'addresses' has %zu entries; at most %d are allowed", n,
                       CONFIG_MAX_ADDRESSES);
    ld->cfg->naddresses = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        char text[64];
        const char *why = "not an IP address or prefix";
        if (item->type != YAML_SCALAR_NODE || scalar_text(item, text, sizeof text) != 0)
            return fail_at(ld, item->start_mark, "addresses: entry is not an IP address or prefix");
        struct prefix p;
        if (prefix_parse(text, &p, &why) != 0)
            return fail_at(ld, item->start_mark, "addresses: '%s': %s", text, why);
        for (size_t i = 0; i < ld->cfg->naddresses; i++)
            if (ip_addr_equal(&ld->cfg->addresses[i].addr, &p.addr) && ld->cfg->addresses[i].len == p.len)
                return fail_at(ld, item->start_mark, "addresses: '%s' is listed twice", text);
        ld->cfg->addresses[ld->cfg->naddresses++] = p;
    }
    if (ld->cfg->naddresses == 0)
        return fail_at(ld, node->start_mark, "'addresses' must list at least one address");
    return 0;
}

static int parse_port_item(struct loader *ld, const char *key, yaml_node_t *item, unsigned *lo, unsigned *hi)
{
    char text[32];
    if (item->type != YAML_SCALAR_NODE || scalar_text(item, text, sizeof text) != 0)
        return fail_at(ld, item->start_mark, "%s: entry must be a port or a range such as 8000-8100", key);
    uint64_t a = 0, b;
    const char *rest = "";
    bool ok = parse_u64(text, &a, &rest) == 0;
    b = a;
    if (ok && *rest == '-')
        ok = parse_u64(rest + 1, &b, &rest) == 0;
    if (!ok || *rest != '\0')
        return fail_at(ld, item->start_mark, "%s: '%s' is not a port or a range such as 8000-8100", key, text);
    if (a > 65535 || b > 65535)
        return fail_at(ld, item->start_mark, "%s: port %llu is out of range 0-65535", key,
                       (unsigned long long)(a > 65535 ? a : b));
    if (b < a)
        return fail_at(ld, item->start_mark, "%s: range '%s' ends before it starts", key, text);
    *lo = (unsigned)a;
    *hi = (unsigned)b;
    return 0;
}

static int set_ports(struct loader *ld, const struct config_key *k, yaml_node_t *node)
{
    bool exclude = strcmp(k->name, "exclude_ports") == 0;
    struct port_set *set = exclude ? &ld->exclude : &ld->cfg->responder.ports;
    if (!exclude && node->type == YAML_SCALAR_NODE) {
        char text[16];
        if (scalar_text(node, text, sizeof text) == 0 && strcmp(text, "all") == 0) {
            port_set_fill(set, true);
            return 0;
        }
        return fail_at(ld, node->start_mark, "'ports' must be \"all\" or a list of ports and ranges");
    }
    if (node->type != YAML_SEQUENCE_NODE)
        return fail_at(ld, node->start_mark, "'%s' must be a list of ports and ranges", k->name);
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > PORT_LIST_MAX)
        return fail_at(ld, node->start_mark, "'%s' has %zu entries; at most %d are allowed", k->name, n,
                       PORT_LIST_MAX);
    port_set_fill(set, false);
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        unsigned lo, hi;
        if (parse_port_item(ld, k->name, yaml_document_get_node(ld->doc, *it), &lo, &hi) != 0)
            return -1;
        for (unsigned p = lo; p <= hi; p++)
            port_set_put(set, p, true);
    }
    if (!exclude && n == 0)
        return fail_at(ld, node->start_mark, "'ports' is empty: nothing would be answered");
    return 0;
}

/* Plain and single-quoted banner text gets \r \n \t \\ \xNN decoded here; double-quoted text was already decoded
 * by YAML itself. */
static int decode_banner(struct loader *ld, yaml_node_t *node, struct banner *b)
{
    const unsigned char *s = node->data.scalar.value;
    size_t len = node->data.scalar.length;
    bool decode = node->data.scalar.style != YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    b->len = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (decode && c == '\\') {
            if (i + 1 >= len)
                return fail_at(ld, node->start_mark, "banner text ends with a lone '\\'");
            char e = (char)s[++i];
            if (e == 'r')
                c = '\r';
            else if (e == 'n')
                c = '\n';
            else if (e == 't')
                c = '\t';
            else if (e == '\\')
                c = '\\';
            else if (e == 'x' && i + 2 < len && hex_digit_value((char)s[i + 1]) >= 0 && hex_digit_value((char)s[i + 2]) >= 0) {
                c = (unsigned char)(hex_digit_value((char)s[i + 1]) * 16 + hex_digit_value((char)s[i + 2]));
                i += 2;
            } else
                return fail_at(ld, node->start_mark, "banner text has an unknown escape '\\%c' (use \\r \\n \\t \\\\ \\xNN)", e);
        }
        if (b->len >= CONFIG_BANNER_MAX)
            return fail_at(ld, node->start_mark, "banner text is longer than %d bytes", CONFIG_BANNER_MAX);
        b->text[b->len++] = (char)c;
    }
    if (b->len == 0)
        return fail_at(ld, node->start_mark, "banner text is empty");
    return 0;
}

static int set_banners(struct loader *ld, yaml_node_t *node)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return fail_at(ld, node->start_mark, "'banners' must be a list of {port, text} entries");
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > CONFIG_MAX_BANNERS)
        return fail_at(ld, node->start_mark, "'banners' has %zu entries; at most %d are allowed", n,
                       CONFIG_MAX_BANNERS);
    struct responder_config *r = &ld->cfg->responder;
    r->nbanners = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *entry = yaml_document_get_node(ld->doc, *it);
        if (entry->type != YAML_MAPPING_NODE)
            return fail_at(ld, entry->start_mark, "banners: each entry must be a mapping with 'port' and 'text'");
        struct banner *b = &r->banners[r->nbanners];
        bool have_port = false, have_text = false;
        for (yaml_node_pair_t *p = entry->data.mapping.pairs.start; p < entry->data.mapping.pairs.top; p++) {
            yaml_node_t *key = yaml_document_get_node(ld->doc, p->key);
            yaml_node_t *val = yaml_document_get_node(ld->doc, p->value);
            char name[32];
            if (key->type != YAML_SCALAR_NODE || scalar_text(key, name, sizeof name) != 0)
                return fail_at(ld, key->start_mark, "banners: keys must be 'port' or 'text'");
            if (strcmp(name, "port") == 0) {
                unsigned lo, hi;
                if (parse_port_item(ld, "banners", val, &lo, &hi) != 0)
                    return -1;
                if (lo != hi || lo == 0)
                    return fail_at(ld, val->start_mark, "banners: 'port' must be one port from 1 to 65535");
                b->port = (uint16_t)lo;
                have_port = true;
            } else if (strcmp(name, "text") == 0) {
                if (val->type != YAML_SCALAR_NODE)
                    return fail_at(ld, val->start_mark, "banners: 'text' must be a string");
                if (decode_banner(ld, val, b) != 0)
                    return -1;
                have_text = true;
            } else {
                return fail_at(ld, key->start_mark, "banners: unknown key '%s' (known: port, text)", name);
            }
        }
        if (!have_port || !have_text)
            return fail_at(ld, entry->start_mark, "banners: entry needs both 'port' and 'text'");
        for (size_t i = 0; i < r->nbanners; i++)
            if (r->banners[i].port == b->port)
                return fail_at(ld, entry->start_mark, "banners: port %u has two banners", b->port);
        r->nbanners++;
    }
    return 0;
}

/* ---- the walk ----------------------------------------------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int unknown_key(struct loader *ld, const char *section, const char *name, yaml_mark_t mark)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(config_keys[i].section, section) != 0)
            continue;
        size_t d = edit_distance(name, config_keys[i].name);
        if (d < best_d) {
            best_d = d;
            best = config_keys[i].name;
        }
    }
    const char *where = section[0] ? section : "the top level";
    if (best)
        return fail_at(ld, mark, "unknown key '%s' in %s (did you mean '%s'?)", name, where, best);
    return fail_at(ld, mark, "unknown key '%s' in %s", name, where);
}

static int walk_mapping(struct loader *ld, const char *section, yaml_node_t *map);

static int apply_key(struct loader *ld, const struct config_key *k, yaml_node_t *key, yaml_node_t *val)
{
    char sub[64];
    switch (k->type) {
    case KT_SECTION:
        if (val->type != YAML_MAPPING_NODE)
            return fail_at(ld, val->start_mark, "'%s' must be a mapping of settings, not %s", k->name, node_kind(val));
        snprintf(sub, sizeof sub, "%s%s%s", k->section, k->section[0] ? "." : "", k->name);
        return walk_mapping(ld, sub, val);
    case KT_STRING:
        if (strcmp(k->name, "interface") == 0)
            ld->mark_interface = key->start_mark;
        if (strcmp(k->name, "bucket") == 0)
            ld->mark_bucket = key->start_mark;
        if (strcmp(k->name, "user") == 0)
            ld->mark_user = val->start_mark;
        return set_string(ld, k, val);
    case KT_UINT:
    case KT_SIZE:
    case KT_DURATION:
    case KT_RATE:
        if (strcmp(k->name, "max_flow_age") == 0)
            ld->mark_max_flow_age = val->start_mark;
        return set_number(ld, k, val);
    case KT_BOOL:
        return set_bool(ld, k, val);
    case KT_ENUM:
        return set_enum(ld, k, val);
    case KT_ADDRESSES:
        return set_addresses(ld, val);
    case KT_PORTS:
        return set_ports(ld, k, val);
    case KT_BANNERS:
        return set_banners(ld, val);
    }
    return 0;
}

static int walk_mapping(struct loader *ld, const char *section, yaml_node_t *map)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(ld->doc, p->value);
        char name[64];
        if (key->type != YAML_SCALAR_NODE || scalar_text(key, name, sizeof name) != 0)
            return fail_at(ld, key->start_mark, "keys must be plain names");
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *earlier = yaml_document_get_node(ld->doc, q->key);
            if (earlier->type == YAML_SCALAR_NODE && earlier->data.scalar.length == key->data.scalar.length &&
                memcmp(earlier->data.scalar.value, key->data.scalar.value, key->data.scalar.length) == 0)
                return fail_at(ld, key->start_mark, "key '%s' appears twice (first at line %zu)", name,
                               earlier->start_mark.line + 1);
        }
        const struct config_key *k = NULL;
        for (size_t i = 0; i < NKEYS && !k; i++)
            if (strcmp(config_keys[i].section, section) == 0 && strcmp(config_keys[i].name, name) == 0)
                k = &config_keys[i];
        if (!k)
            return unknown_key(ld, section, name, key->start_mark);
        if (val->type == YAML_SCALAR_NODE && val->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            val->data.scalar.length == 0 && k->type != KT_STRING)
            return fail_at(ld, key->start_mark, "'%s' has no value", name);
        if (apply_key(ld, k, key, val) != 0)
            return -1;
    }
    return 0;
}

/* Fail closed: a configuration that would leave the sensor processes root is an error, not a default. */
static int check_user(struct loader *ld)
{
    const struct lurker_config *c = ld->cfg;
    if (c->user[0] == '\0') {
        if (c->keep_identity)
            return 0;
        return fail_at(ld, ld->mark_user,
                       "'user' is empty: every process would keep the identity it started with (root under "
                       "supervisord); name an unprivileged account, or set keep_identity: true (development only)");
    }
    const struct passwd *pw = getpwnam(c->user);
    if (strcmp(c->user, "root") == 0 || (pw && pw->pw_uid == 0))
        return fail_at(ld, ld->mark_user,
                       "'user' is '%s', which is uid 0: the processes would keep every privilege; name an "
                       "unprivileged account such as lurker",
                       c->user);
    return 0;
}

/* Rules that involve more than one key, checked once everything is read. */
static int check_whole(struct loader *ld)
{
    struct lurker_config *c = ld->cfg;
    if (check_user(ld) != 0)
        return -1;
    if (c->interface[0] == '\0')
        return fail_at(ld, ld->mark_root, "missing required key 'interface'");
    if (!ld->seen_addresses)
        return fail_at(ld, ld->mark_root, "missing required key 'addresses'");
    if (c->capturer.max_flow_age < c->capturer.flow_timeout)
        return fail_at(ld, ld->mark_max_flow_age, "'max_flow_age' (%us) is shorter than 'flow_timeout' (%us)",
                       c->capturer.max_flow_age, c->capturer.flow_timeout);
    if (c->queue_slots & (c->queue_slots - 1))
        return fail_at(ld, ld->mark_root, "'queue_slots' (%u) must be a power of two", c->queue_slots);
    if (c->shipper.storage == STORAGE_S3 && c->shipper.s3.bucket[0] == '\0')
        return fail_at(ld, ld->mark_bucket, "storage is s3 but 'shipper.s3.bucket' is empty");
    if (c->responder.global_burst < 1 || c->responder.source_burst < 1)
        return fail_at(ld, ld->mark_root, "bursts must be at least 1");
    for (unsigned i = 0; i < sizeof ld->exclude.bits; i++)
        c->responder.ports.bits[i] &= (uint8_t)~ld->exclude.bits[i];
    bool any = false;
    for (unsigned i = 0; i < sizeof c->responder.ports.bits && !any; i++)
        any = c->responder.ports.bits[i] != 0;
    if (!any)
        return fail_at(ld, ld->mark_root, "'exclude_ports' removes every port in 'ports': nothing would be answered");
    return 0;
}

int config_load_buffer(const char *name, const char *text, size_t len, struct lurker_config *cfg, char *err,
                       size_t errlen)
{
    config_defaults(cfg);
    snprintf(cfg->source, sizeof cfg->source, "%s", name);
    struct loader ld = {.name = name, .cfg = cfg, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';

    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_mark_t mark = parser.problem_mark;
        snprintf(err, errlen, "%s:%zu:%zu: not valid YAML: %s%s%s", name, mark.line + 1, mark.column + 1,
                 parser.problem ? parser.problem : "parse error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    ld.doc = &doc;
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        snprintf(err, errlen, "%s:1:1: the file is empty; 'interface' and 'addresses' are required", name);
        rc = -1;
    } else if (root->type != YAML_MAPPING_NODE) {
        rc = fail_at(&ld, root->start_mark, "the top level must be a mapping of settings, not %s", node_kind(root));
    } else {
        ld.mark_root = root->start_mark;
        ld.mark_bucket = ld.mark_max_flow_age = ld.mark_user = root->start_mark;
        rc = walk_mapping(&ld, "", root);
        if (rc == 0)
            rc = check_whole(&ld);
    }
    /* A second document in the file is a mistake worth naming (e.g. a stray '---'). */
    if (rc == 0) {
        yaml_document_t extra;
        if (yaml_parser_load(&parser, &extra)) {
            yaml_node_t *r2 = yaml_document_get_root_node(&extra);
            if (r2)
                rc = fail_at(&ld, r2->start_mark, "a second YAML document; lurker.yaml holds exactly one");
            yaml_document_delete(&extra);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int config_load(const char *path, struct lurker_config *cfg, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        config_defaults(cfg);
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error || n > CONFIG_FILE_MAX) {
        free(buf);
        config_defaults(cfg);
        snprintf(err, errlen, "%s: %s", path, read_error ? "read error" : "larger than 1 MiB");
        return -1;
    }
    int rc = config_load_buffer(path, buf, n, cfg, err, errlen);
    free(buf);
    return rc;
}

bool config_has_family(const struct lurker_config *cfg, int family)
{
    for (size_t i = 0; i < cfg->naddresses; i++)
        if (cfg->addresses[i].addr.family == family)
            return true;
    return false;
}

void config_summary(const struct lurker_config *cfg, char *out, size_t outlen)
{
    char addrs[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < cfg->naddresses; i++) {
        char a[64];
        ip_addr_format(&cfg->addresses[i].addr, a, sizeof a);
        int w = snprintf(addrs + used, sizeof addrs - used, "%s%s/%u", i ? "," : "", a, cfg->addresses[i].len);
        if (w < 0 || (size_t)w >= sizeof addrs - used)
            break;
        used += (size_t)w;
    }
    unsigned nports = 0;
    for (unsigned p = 0; p < 65536; p++)
        nports += port_set_has(&cfg->responder.ports, (uint16_t)p);
    snprintf(out, outlen,
             "sensor %s on %s [%s], %u ports answered, persona %s, flow_timeout %us, spool %s, storage %s%s%s, shm %s",
             cfg->sensor_id, cfg->interface, addrs, nports, persona_name(cfg->responder.persona),
             cfg->capturer.flow_timeout, cfg->spool.directory, cfg->shipper.storage == STORAGE_S3 ? "s3://" : "local ",
             cfg->shipper.storage == STORAGE_S3 ? cfg->shipper.s3.bucket : cfg->shipper.archive_dir, "",
             cfg->shm_name);
}
