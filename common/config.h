/* lurker.yaml: one file for every process.
 *
 * config_load() fills a struct lurker_config from defaults, then from the file. Any problem is reported as
 * "PATH:LINE:COL: what is wrong" in the caller's error buffer and config_load() returns -1; nothing is partially
 * applied that a caller could act on. Every key, its type, range and default lives in one table in config.c, and the
 * shipped lurker.yaml documents each of them. */
#ifndef LURKER_CONFIG_H
#define LURKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define CONFIG_MAX_ADDRESSES 16
#define CONFIG_MAX_BANNERS 32
#define CONFIG_BANNER_MAX 512
#define CONFIG_PATH_MAX 256
#define CONFIG_STR_MAX 256
#define CONFIG_ERR_MAX 512

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum persona { PERSONA_LINUX, PERSONA_WINDOWS, PERSONA_FREEBSD };
enum firewall_mode { FIREWALL_OUTPUT, FIREWALL_INGRESS, FIREWALL_NONE };
enum responder_engine { ENGINE_RAW, ENGINE_TC, ENGINE_AUTO };
enum storage_backend { STORAGE_LOCAL, STORAGE_S3 };
enum metrics_backend { METRICS_NONE, METRICS_CLOUDWATCH };

/* A set of TCP ports as a 65536-bit map: answer[port] says whether the responder answers SYNs to it. */
struct port_set {
    uint8_t bits[65536 / 8];
};

static inline bool port_set_has(const struct port_set *set, uint16_t port)
{
    return (set->bits[port >> 3] >> (port & 7)) & 1;
}

struct banner {
    uint16_t port;
    size_t len;
    char text[CONFIG_BANNER_MAX]; /* bytes sent after the client's ACK; escapes (\r \n \xNN) already decoded */
};

struct responder_config {
    struct port_set ports;     /* effective set: `ports` minus `exclude_ports` */
    enum persona persona;
    uint64_t global_rate;      /* SYN+ACKs per second, all sources together */
    uint64_t global_burst;
    uint64_t source_rate;      /* SYN+ACKs per second per /24 (IPv4) or /64 (IPv6) */
    uint64_t source_burst;
    uint32_t source_buckets;   /* size of the per-source bucket table */
    enum firewall_mode firewall;
    enum responder_engine engine; /* who answers SYNs: user space (raw sockets) or a tc BPF program */
    bool ack_data;             /* acknowledge clients' data and FINs (ack_path.h) */
    size_t nbanners;
    struct banner banners[CONFIG_MAX_BANNERS];
};

struct capturer_config {
    uint32_t snaplen;
    uint64_t buffer_size;      /* libpcap ring, bytes */
    uint32_t flow_timeout;     /* seconds idle before a flow is finished */
    uint32_t max_flow_age;     /* seconds since a flow's first packet */
    uint32_t max_flows;        /* open flows at once */
    uint32_t max_flow_packets;
    uint64_t max_flow_bytes;   /* captured bytes per flow */
    uint64_t memory_limit;     /* captured bytes held in memory over all open flows */
    bool journal;              /* crash journal in spool/.journal (open flows survive a killed capturer) */
    uint64_t journal_max;      /* bytes the journal may take on disk */
    bool sched_idle;           /* SCHED_IDLE: the responder always wins the CPU (common/background.h) */
    uint32_t batch_interval;   /* seconds a batch of flows without client data stays open; 0: no batches */
    uint32_t batch_max_flows;  /* flows per batch */
    uint64_t batch_max_bytes;  /* bytes per batch pcap */
};

struct spool_config {
    char directory[CONFIG_PATH_MAX];
    uint64_t quota;            /* bytes of finished pcaps the spool may hold */
};

struct s3_config {
    char bucket[CONFIG_STR_MAX];
    char region[64];
    char prefix[CONFIG_STR_MAX];
    char endpoint[CONFIG_STR_MAX]; /* empty: https://BUCKET.s3.REGION.amazonaws.com */
    bool path_style;
    char sse[32];                  /* "", "AES256" or "aws:kms" */
    char profile[64];              /* shared credentials profile; empty: AWS_PROFILE or "default" */
};

struct shipper_config {
    enum storage_backend storage;
    char archive_dir[CONFIG_PATH_MAX]; /* storage: local */
    struct s3_config s3;
    char key_template[CONFIG_STR_MAX];
    char batch_key_template[CONFIG_STR_MAX];
    uint32_t concurrency;              /* uploads in flight */
    uint32_t max_retries;              /* before a transient failure parks a file */
    uint32_t failed_retry_interval;    /* seconds between retries of parked files */
    enum metrics_backend metrics;      /* where the sensor's health numbers go every metrics_interval */
    uint32_t metrics_interval;         /* seconds */
    char metrics_namespace[CONFIG_STR_MAX];
    char metrics_endpoint[CONFIG_STR_MAX]; /* CloudWatch endpoint override; "" for AWS */
    char prometheus_file[CONFIG_PATH_MAX]; /* textfile for node_exporter, rewritten every interval; "" off */
    bool sched_idle;                   /* SCHED_IDLE (common/background.h) */
};

struct lurker_config {
    char source[CONFIG_PATH_MAX];      /* file it came from, for messages */
    char sensor_id[64];
    enum log_level log_level;
    char interface[64];
    size_t naddresses;
    struct prefix addresses[CONFIG_MAX_ADDRESSES];
    char user[64];                     /* unprivileged user the sensor processes switch to; never uid 0 */
    bool keep_identity;                /* lets user be "": every process keeps its starting identity (dev only) */
    char shm_name[64];                 /* POSIX shm name, starts with '/' */
    uint32_t queue_slots;              /* finished-flow queue capacity, power of two */
    struct responder_config responder;
    struct capturer_config capturer;
    struct spool_config spool;
    struct shipper_config shipper;
};

/* Fills *cfg with every default. Infallible. */
void config_defaults(struct lurker_config *cfg);

/* Loads PATH over the defaults. On error writes "PATH:LINE:COL: message" (or "PATH: message" when there is no
 * position, e.g. the file cannot be opened) into err and returns -1. */
int config_load(const char *path, struct lurker_config *cfg, char *err, size_t errlen);

/* Same, from a memory buffer; `name` stands for the path in messages. For tests and fuzzing. */
int config_load_buffer(const char *name, const char *text, size_t len, struct lurker_config *cfg, char *err,
                       size_t errlen);

/* One line describing the loaded configuration, for --check. */
void config_summary(const struct lurker_config *cfg, char *out, size_t outlen);
/* Whether 'addresses' holds a prefix of this family (AF_INET, AF_INET6). */
bool config_has_family(const struct lurker_config *cfg, int family);

const char *persona_name(enum persona p);
const char *log_level_name(enum log_level l);

#endif
