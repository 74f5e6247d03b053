#include "summary.h"

#include "record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXCERPT 48

struct summary_row {
    json_int_t init_ts;
    char time[32];
    char src[48];
    json_int_t dst_port;
    char service[16];
    json_int_t payload_len;
    char excerpt[EXCERPT + 1];
};

struct summary {
    struct summary_row *rows;
    size_t n, cap;
};

struct summary *summary_new(void)
{
    return calloc(1, sizeof(struct summary));
}

void summary_free(struct summary *s)
{
    if (s)
        free(s->rows);
    free(s);
}

static void copy_field(char *dst, size_t size, const json_t *rec, const char *key)
{
    const char *v = json_string_value(json_object_get(rec, key));
    snprintf(dst, size, "%s", v ? v : "-");
}

int summary_add(struct summary *s, const struct record *record)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct summary_row *rows = realloc(s->rows, cap * sizeof *rows);
        if (!rows)
            return -1;
        s->rows = rows;
        s->cap = cap;
    }
    json_t *rec = record_fields(record);
    if (!rec)
        return -1;
    struct summary_row *r = &s->rows[s->n++];
    r->init_ts = json_integer_value(json_object_get(rec, "init_ts"));
    copy_field(r->time, sizeof r->time, rec, "init_time");
    copy_field(r->src, sizeof r->src, rec, "src_addr");
    r->dst_port = json_integer_value(json_object_get(rec, "dst_port"));
    copy_field(r->service, sizeof r->service, rec, "service");
    r->payload_len = json_integer_value(json_object_get(rec, "payload_len"));
    size_t w = 0;
    for (size_t i = 0; i < record->client_len && w < EXCERPT; i++) { /* one line per row: whitespace as a space */
        uint8_t c = record->client_bytes[i];
        r->excerpt[w++] = (c >= 0x20 && c <= 0x7e) ? (char)c : (c >= '\t' && c <= '\r') ? ' ' : '.';
    }
    r->excerpt[w] = '\0';
    json_decref(rec);
    return 0;
}

static int by_time_desc(const void *a, const void *b)
{
    const struct summary_row *x = *(const struct summary_row *const *)a, *y = *(const struct summary_row *const *)b;
    return (x->init_ts < y->init_ts) - (x->init_ts > y->init_ts);
}

static void print_recent(const struct summary *s, FILE *out)
{
    const struct summary_row **with_payload = malloc((s->n ? s->n : 1) * sizeof *with_payload);
    if (!with_payload)
        return;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].payload_len > 0)
            with_payload[k++] = &s->rows[i];
    qsort(with_payload, k, sizeof *with_payload, by_time_desc);
    fprintf(out, "Most recent flows with payload (%zu of %zu flows carried one)\n", k, s->n);
    fprintf(out, "  %-27s %-39s %5s %-8s %8s  %s\n", "init_time", "src_addr", "port", "service", "bytes",
            "readable");
    for (size_t i = 0; i < k && i < SUMMARY_ROWS; i++) {
        const struct summary_row *r = with_payload[i];
        fprintf(out, "  %-27s %-39s %5lld %-8s %8lld  %s\n", r->time, r->src, (long long)r->dst_port, r->service,
                (long long)r->payload_len, r->excerpt);
    }
    free(with_payload);
}

struct count {
    char key[48];
    size_t n;
};

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct count *)a)->key, ((const struct count *)b)->key);
}

static int by_count_desc(const void *a, const void *b)
{
    const struct count *x = a, *y = b;
    if (x->n != y->n)
        return (x->n < y->n) - (x->n > y->n);
    return strcmp(x->key, y->key);
}

/* Counts rows by the key `field` extracts, then prints the largest groups. */
static void print_counts(const struct summary *s, FILE *out, const char *title,
                         void (*field)(const struct summary_row *, char *, size_t))
{
    struct count *keys = malloc((s->n ? s->n : 1) * sizeof *keys);
    if (!keys)
        return;
    for (size_t i = 0; i < s->n; i++) {
        field(&s->rows[i], keys[i].key, sizeof keys[i].key);
        keys[i].n = 1;
    }
    qsort(keys, s->n, sizeof *keys, by_key);
    size_t groups = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (groups > 0 && strcmp(keys[groups - 1].key, keys[i].key) == 0)
            keys[groups - 1].n++;
        else
            keys[groups++] = keys[i];
    }
    qsort(keys, groups, sizeof *keys, by_count_desc);
    fprintf(out, "\nFlows by %s (%zu distinct)\n", title, groups);
    for (size_t i = 0; i < groups && i < SUMMARY_ROWS; i++)
        fprintf(out, "  %8zu  %s\n", keys[i].n, keys[i].key);
    free(keys);
}

static void port_field(const struct summary_row *r, char *out, size_t n)
{
    snprintf(out, n, "%lld", (long long)r->dst_port);
}

static void source_field(const struct summary_row *r, char *out, size_t n)
{
    snprintf(out, n, "%s", r->src);
}

static void service_field(const struct summary_row *r, char *out, size_t n)
{
    snprintf(out, n, "%s", r->service);
}

void summary_print(const struct summary *s, FILE *out)
{
    print_recent(s, out);
    print_counts(s, out, "destination port", port_field);
    print_counts(s, out, "source", source_field);
    print_counts(s, out, "service", service_field);
}
