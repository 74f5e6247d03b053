/* The analyzer's records as JSON Lines in S3, for Athena (infra/output.yml: the Glue table `flows`).
 *
 * The records of one pcap are grouped by the UTC day of their init_ts and their sensor, and each group becomes one
 * object: PREFIX YYYY-MM-DD/SENSOR__NAME.jsonl, NAME being the pcap's file name without its extension. The day is
 * the table's partition (dt, by partition projection), so every record sits under the partition its own init_ts
 * names. A sensor name is used as it is when it is made of [A-Za-z0-9._-] (what deploy.sh allows), else every
 * other byte becomes '_'; a record without a sensor is filed as "unknown". No '=' in keys (Hive's dt=DAY layout):
 * projection does not need it. Keys depend only on the pcap and its records: a retried invocation writes the same
 * objects again, nothing twice. */
#ifndef ANALYZER_RECORDS_S3_H
#define ANALYZER_RECORDS_S3_H

#include <stddef.h>

struct s3_client;

struct records_group {
    char day[11];        /* YYYY-MM-DD */
    char sensor[64];     /* made safe for a key */
    char *data;          /* the group's lines, each ending in '\n' */
    size_t len, cap;
};

struct records_s3 {
    char bucket[64];
    char prefix[256];    /* ends in '/' or is empty */
    struct records_group *groups;
    size_t n, cap;
};

/* Reads LURKER_RECORDS_BUCKET and LURKER_RECORDS_PREFIX (default "records/"). Returns 1 when records are to be
 * written, 0 when no bucket is set, -1 (reason in err) when the settings are unusable. */
int records_s3_init(struct records_s3 *w, char *err, size_t errlen);

/* Adds the JSON lines in buf (len bytes, each line ending in '\n') to their groups. Returns 0, or -1 with the
 * reason in err when a line is not a record (then nothing of buf is kept). */
int records_s3_add(struct records_s3 *w, const char *buf, size_t len, char *err, size_t errlen);

/* Writes every group of the pcap named pcap_name (a path or an S3 key; its last component names the objects) and
 * empties the groups. Returns how many objects could not be written (reasons of the last one in err). */
int records_s3_flush(struct records_s3 *w, struct s3_client *client, const char *pcap_name, char *err,
                     size_t errlen);

/* Empties the groups without writing them (after a failure). */
void records_s3_flush_discard(struct records_s3 *w);

/* The object key of a group (for tests and messages). Returns 0, or -1 when it does not fit. */
int records_s3_key(const struct records_s3 *w, const struct records_group *g, const char *pcap_name, char *key,
                   size_t keylen);

void records_s3_free(struct records_s3 *w);

#endif
