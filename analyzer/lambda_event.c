#include "lambda_event.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

#define MAX_NESTING 3

int s3_key_decode(const char *in, char *out, size_t outlen)
{
    size_t w = 0;
    for (size_t i = 0; in[i]; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = hex_digit_value(in[i + 1]), lo = hi < 0 ? -1 : hex_digit_value(in[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (w + 1 >= outlen)
            return -1;
        out[w++] = c;
    }
    out[w] = '\0';
    return 0;
}

static int add_object(struct lambda_objects *out, const char *bucket, const char *key)
{
    if (out->n >= LAMBDA_MAX_OBJECTS)
        return -1;
    struct s3_object_ref *items = realloc(out->items, (out->n + 1) * sizeof *items);
    if (!items)
        return -1;
    out->items = items;
    struct s3_object_ref *o = &items[out->n];
    if (strlen(bucket) >= sizeof o->bucket || s3_key_decode(key, o->key, sizeof o->key) != 0)
        return -1;
    snprintf(o->bucket, sizeof o->bucket, "%s", bucket);
    out->n++;
    return 0;
}

static void walk(json_t *doc, struct lambda_objects *out, int depth);

/* A JSON document carried as a string (SNS Message, SQS body). */
static void walk_string(const char *text, struct lambda_objects *out, int depth)
{
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    if (!doc) {
        out->skipped++;
        return;
    }
    walk(doc, out, depth + 1);
    json_decref(doc);
}

static void walk_record(json_t *rec, struct lambda_objects *out, int depth)
{
    json_t *sns = json_object_get(rec, "Sns");
    const char *sqs_body = json_string_value(json_object_get(rec, "body"));
    json_t *s3 = json_object_get(rec, "s3");
    if (json_is_object(sns)) {
        walk_string(json_string_value(json_object_get(sns, "Message")), out, depth);
    } else if (sqs_body) {
        walk_string(sqs_body, out, depth);
    } else if (json_is_object(s3)) {
        const char *event = json_string_value(json_object_get(rec, "eventName"));
        const char *bucket = json_string_value(json_object_get(json_object_get(s3, "bucket"), "name"));
        const char *key = json_string_value(json_object_get(json_object_get(s3, "object"), "key"));
        if (!bucket || !key || (event && strncmp(event, "ObjectCreated:", 14) != 0) || add_object(out, bucket, key))
            out->skipped++;
    } else {
        out->skipped++;
    }
}

static void walk(json_t *doc, struct lambda_objects *out, int depth)
{
    if (depth > MAX_NESTING || !json_is_object(doc)) {
        out->skipped++;
        return;
    }
    const char *event = json_string_value(json_object_get(doc, "Event"));
    if (event && strcmp(event, "s3:TestEvent") == 0) {
        out->skipped++;
        return;
    }
    /* an SNS envelope as SQS delivers it (raw message delivery off) */
    const char *message = json_string_value(json_object_get(doc, "Message"));
    if (message && json_string_value(json_object_get(doc, "Type"))) {
        walk_string(message, out, depth);
        return;
    }
    json_t *records = json_object_get(doc, "Records");
    if (!json_is_array(records)) {
        out->skipped++;
        return;
    }
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
        walk_record(rec, out, depth);
}

int lambda_event_objects(const char *body, size_t len, struct lambda_objects *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    if (!doc) {
        snprintf(err, errlen, "event is not JSON: %s", jerr.text);
        return -1;
    }
    const char *event = json_string_value(json_object_get(doc, "Event"));
    if (!json_is_array(json_object_get(doc, "Records")) && !(event && strcmp(event, "s3:TestEvent") == 0)) {
        json_decref(doc);
        snprintf(err, errlen, "event has no Records array");
        return -1;
    }
    walk(doc, out, 0);
    json_decref(doc);
    return 0;
}

void lambda_objects_free(struct lambda_objects *o)
{
    free(o->items);
    memset(o, 0, sizeof *o);
}
