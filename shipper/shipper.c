/* The shipper's engine. See shipper.h. */
#include "shipper.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backoff.h"
#include "log.h"
#include "store_local.h"

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define QUEUE_BUDGET_PER_TICK 4096
#define LOCAL_STORES_PER_TICK 256
#define IDLE_WAIT_MS 200

static uint64_t next_random(struct shipper *s)
{
    /* xorshift64*: jitter only, no security role */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ull;
}

static const char *where(const struct job *j)
{
    return j->parked ? SPOOL_FAILED_DIR "/" : "";
}

int shipper_init(struct shipper *s, const struct lurker_config *cfg, struct shm_segment *seg, char *err,
                 size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->seg = seg;
    s->spool.dirfd = s->spool.failedfd = -1;
    if (getrandom(&s->rng, sizeof s->rng, 0) != sizeof s->rng || s->rng == 0)
        s->rng = monotonic_ns() | 1;

    /* a template that cannot produce a valid key is a configuration error, found now rather than per file */
    static const uint8_t scanner[4] = {198, 51, 100, 2}, sensor[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};
    struct spool_name probe = {.first_us = 1700000000000000ull,
                               .id = {.proto = IPPROTO_TCP, .remote_port = 40000, .local_port = 22}};
    ip_addr_from_v4(&probe.id.remote, scanner);
    ip_addr_from_v6(&probe.id.local, sensor);
    char key[KEY_MAX], why[256];
    const struct shipper_config *sc = &cfg->shipper;
    const char *prefix = sc->storage == STORAGE_S3 ? sc->s3.prefix : "";
    if (key_expand(sc->key_template, prefix, cfg->sensor_id, &probe, key, sizeof key, why, sizeof why) < 0) {
        snprintf(err, errlen, "shipper.key_template: %s", why);
        return -1;
    }
    struct spool_name batch_probe = {.first_us = 1700000000000000ull, .batch = true, .batch_pid = 4242,
                                     .batch_number = 1};
    if (key_expand(sc->batch_key_template, prefix, cfg->sensor_id, &batch_probe, key, sizeof key, why, sizeof why) <
        0) {
        snprintf(err, errlen, "shipper.batch_key_template: %s", why);
        return -1;
    }
    if (spooldir_open(&s->spool, cfg->spool.directory, err, errlen) < 0)
        return -1;
    if (jobs_init(&s->jobs) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (sc->storage == STORAGE_S3) {
        if (!sc->s3.bucket[0]) {
            snprintf(err, errlen, "shipper.s3.bucket is required when storage is s3");
            return -1;
        }
        s->s3 = s3_client_new(&sc->s3, err, errlen);
        if (!s->s3)
            return -1;
        s->multi = curl_multi_init();
        if (!s->multi) {
            snprintf(err, errlen, "curl_multi_init failed");
            return -1;
        }
        curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)sc->concurrency);
        curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)sc->concurrency);
    }
    /* first round: scan the spool and retry parked files at once (an operator who fixed the configuration and
     * restarted expects them to go) */
    s->next_rescan_ns = s->next_failed_retry_ns = s->next_gauges_ns = 0;
    s->queue_tail_seen = atomic_load(&seg->queue->shared->tail);
    return 0;
}

/* ---- learning of files ---- */

static void found_in_spool(const char *name, int64_t mtime, void *arg)
{
    struct shipper *s = arg;
    struct job *j = jobs_add(&s->jobs, name, false);
    if (j)
        j->mtime = mtime;
}

static void found_in_failed(const char *name, int64_t mtime, void *arg)
{
    struct shipper *s = arg;
    struct job *j = jobs_add(&s->jobs, name, true);
    if (j)
        j->mtime = mtime;
}

static void rescan(struct shipper *s, const char *why)
{
    size_t before = s->jobs.count;
    size_t seen = spooldir_scan(&s->spool, false, found_in_spool, s);
    counter_add(s->seg, CNT_rescans, 1);
    log_debug("event=rescan reason=%s files=%zu new=%zu", why, seen, s->jobs.count - before);
    if (s->jobs.count > before && strcmp(why, "start") != 0)
        log_info("event=rescan_found reason=%s new=%zu", why, s->jobs.count - before);
}

static void retry_parked(struct shipper *s)
{
    size_t before = s->jobs.count;
    spooldir_scan(&s->spool, true, found_in_failed, s);
    if (s->jobs.count > before)
        log_info("event=retry_parked files=%zu", s->jobs.count - before);
}

static void consume_queue(struct shipper *s)
{
    struct lurker_queue *q = s->seg->queue;
    uint64_t tail = atomic_load(&q->shared->tail);
    if (tail < s->queue_tail_seen) {
        log_warn("event=queue_reset note=\"scanning the spool for what it held\"");
        s->next_rescan_ns = 0;
    }
    s->queue_tail_seen = tail;
    for (int i = 0; i < QUEUE_BUDGET_PER_TICK; i++) {
        struct queue_record rec;
        if (queue_peek(q, &rec) != QUEUE_OK)
            break;
        if (!queue_record_valid(&rec)) {
            /* another build's capturer, or garbage in shared memory: the file, if any, waits for the rescan */
            counter_add(s->seg, CNT_queue_records_refused, 1);
            log_warn("event=queue_record_refused seq=%llu version=%u expected_version=%u "
                     "note=\"its file is shipped by the next spool scan\"",
                     (unsigned long long)rec.seq, rec.version, QUEUE_RECORD_VERSION);
        } else {
            struct job *j = jobs_find(&s->jobs, rec.name);
            if (!j && spooldir_exists(&s->spool, rec.name, false)) {
                j = jobs_add(&s->jobs, rec.name, false);
                if (j)
                    j->mtime = (int64_t)(rec.last_us / 1000000u);
            }
            if (j && !j->have_meta && !j->parked) {
                j->meta = rec.key;
                j->have_meta = true;
            }
            /* no job and no file: shipped already (a record seen again after a restart) */
        }
        /* Committed once the job is in the table: the file itself is the durable record, and a restart rescans. */
        queue_commit(q, rec.seq);
    }
}

/* ---- outcomes ---- */

static void park(struct shipper *s, struct job *j, const char *key, const char *code, long status,
                 const char *server_msg)
{
    char msg[600];
    log_quote(server_msg, strlen(server_msg), msg, sizeof msg); /* the text comes from the server */
    if (j->parked) {
        log_warn("event=parked_still_failing file=%s%s key=%s code=%s status=%ld message=%s", where(j), j->name,
                 key, code, status, msg);
    } else if (spooldir_park(&s->spool, j->name) == 0) {
        counter_add(s->seg, CNT_parked, 1);
        log_error("event=parked file=%s key=%s code=%s status=%ld message=%s "
                  "note=\"moved to %s/%s, retried every %us, never deleted\"",
                  j->name, key, code, status, msg, s->cfg->spool.directory, SPOOL_FAILED_DIR,
                  s->cfg->shipper.failed_retry_interval);
    } else if (errno != ENOENT) {
        log_error("event=park_failed file=%s code=%s reason=\"%s\" note=\"file stays in the spool\"", j->name, code,
                  strerror(errno));
    }
    jobs_remove(&s->jobs, j);
}

static void finish(struct shipper *s, struct job *j, const char *key, size_t len, const struct s3_result *res)
{
    if (res->outcome == S3_OK) {
        if (spooldir_remove(&s->spool, j->name, j->parked) != 0)
            log_error("event=spool_remove_failed file=%s%s reason=\"%s\"", where(j), j->name, strerror(errno));
        counter_add(s->seg, CNT_uploaded, 1);
        counter_add(s->seg, CNT_uploaded_bytes, len);
        log_info("event=stored file=%s%s key=%s bytes=%zu attempts=%u", where(j), j->name, key, len,
                 j->attempts + 1);
        jobs_remove(&s->jobs, j);
        return;
    }
    counter_add(s->seg, CNT_failures, 1);
    if (res->refresh_credentials && s->s3)
        s3_client_refresh_credentials(s->s3);
    if (res->outcome == S3_PERMANENT) {
        park(s, j, key, res->code, res->http_status, res->message);
        return;
    }
    j->attempts++;
    if (j->attempts > s->cfg->shipper.max_retries) {
        char msg[320];
        snprintf(msg, sizeof msg, "gave up after %u attempts: %.250s", j->attempts, res->message);
        park(s, j, key, res->code, res->http_status, msg);
        return;
    }
    counter_add(s->seg, CNT_retries, 1);
    uint64_t delay_ms = backoff_delay_ms(j->attempts, next_random(s));
    char msg[600];
    log_quote(res->message, strlen(res->message), msg, sizeof msg);
    log_warn("event=upload_retry file=%s%s key=%s code=%s status=%ld message=%s attempt=%u/%u retry_in_ms=%llu",
             where(j), j->name, key, res->code, res->http_status, msg, j->attempts,
             s->cfg->shipper.max_retries, (unsigned long long)delay_ms);
    jobs_delay(&s->jobs, j, monotonic_ns() + delay_ms * NS_PER_MS);
}

/* ---- starting work ---- */

/* A name that is not the capturer's (a file put in the spool by hand, or renamed) is shipped under a key of its own,
 * never dropped, and its bytes are never parsed in place of the name: attacker-controlled packets do not pick keys. */
static int key_for(struct shipper *s, struct job *j, char *key, char *why, size_t whylen)
{
    const struct shipper_config *sc = &s->cfg->shipper;
    const char *prefix = sc->storage == STORAGE_S3 ? sc->s3.prefix : "";
    if (!j->have_meta && !spool_name_parse(j->name, &j->meta)) {
        if (key_for_unparsed(prefix, s->cfg->sensor_id, j->name, key, KEY_MAX) != 0) {
            snprintf(why, whylen, "the file name is not the capturer's and too long for a key of its own");
            return -1;
        }
        char quoted[3 * QUEUE_NAME_MAX];
        log_quote(j->name, strlen(j->name), quoted, sizeof quoted);
        counter_add(s->seg, CNT_unparsed_names, 1);
        log_warn("event=unparsed_name file=%s%s key=%s note=\"not a name the capturer writes: shipped under a key of "
                 "its own\"", where(j), quoted, key);
        return 0;
    }
    j->have_meta = true;
    return key_expand(j->meta.batch ? sc->batch_key_template : sc->key_template, prefix, s->cfg->sensor_id, &j->meta,
                      key, KEY_MAX, why, whylen);
}

/* Reads the job's file and either stores it (local) or puts it in flight (S3). */
static void start(struct shipper *s, struct job *j)
{
    uint8_t *data;
    size_t len;
    int64_t mtime;
    if (spooldir_read(&s->spool, j->name, j->parked, &data, &len, &mtime) < 0) {
        int e = errno;
        if (e == ENOENT) {
            log_debug("event=gone file=%s%s note=\"stored already\"", where(j), j->name);
            jobs_remove(&s->jobs, j);
        } else {
            struct s3_result res = {.outcome = e == EFBIG ? S3_PERMANENT : S3_TRANSIENT};
            snprintf(res.code, sizeof res.code, "%s", e == EFBIG ? "FileTooLarge" : "ReadError");
            snprintf(res.message, sizeof res.message, "%s", strerror(e));
            finish(s, j, "-", 0, &res);
        }
        return;
    }
    char key[KEY_MAX], why[320];
    if (key_for(s, j, key, why, sizeof why) < 0) {
        struct s3_result res = {.outcome = S3_PERMANENT};
        snprintf(res.code, sizeof res.code, "NoKey");
        snprintf(res.message, sizeof res.message, "%.250s", why);
        free(data);
        finish(s, j, "-", len, &res);
        return;
    }
    struct s3_result res;
    if (!s->s3) {
        memset(&res, 0, sizeof res);
        res.outcome = store_local_put(s->cfg->shipper.archive_dir, key, data, len, res.message, sizeof res.message);
        if (res.outcome != S3_OK)
            snprintf(res.code, sizeof res.code, "LocalStoreError");
        free(data);
        finish(s, j, key, len, &res);
        return;
    }
    struct s3_op *op = s3_put_prepare(s->s3, s3_client_bucket(s->s3), key, data, len, &res);
    if (!op || curl_multi_add_handle(s->multi, s3_op_handle(op)) != CURLM_OK) {
        if (op) {
            s3_op_free(op);
            res = (struct s3_result){.outcome = S3_TRANSIENT};
            snprintf(res.code, sizeof res.code, "CurlMultiError");
        }
        free(data);
        finish(s, j, key, len, &res);
        return;
    }
    struct in_flight *f = &s->flights[s->nflights++];
    f->job = j;
    f->op = op;
    f->data = data;
    f->len = len;
    memcpy(f->key, key, sizeof f->key);
}

static void dispatch(struct shipper *s)
{
    if (!s->s3) {
        struct job *j;
        for (int i = 0; i < LOCAL_STORES_PER_TICK && (j = jobs_take_ready(&s->jobs)); i++)
            start(s, j);
        return;
    }
    uint32_t limit = s->cfg->shipper.concurrency;
    if (limit > SHIPPER_MAX_IN_FLIGHT)
        limit = SHIPPER_MAX_IN_FLIGHT;
    struct job *j;
    while (s->nflights < limit && (j = jobs_take_ready(&s->jobs)))
        start(s, j);
}

static void collect(struct shipper *s)
{
    int running, left;
    curl_multi_perform(s->multi, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(s->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (size_t i = 0; i < s->nflights; i++) {
            struct in_flight *f = &s->flights[i];
            if (s3_op_handle(f->op) != msg->easy_handle)
                continue;
            CURLcode rc = msg->data.result;
            struct s3_result res;
            curl_multi_remove_handle(s->multi, msg->easy_handle);
            s3_op_complete(f->op, rc, &res);
            s3_op_free(f->op);
            free(f->data);
            struct job *j = f->job;
            size_t len = f->len;
            char key[KEY_MAX];
            memcpy(key, f->key, sizeof key);
            s->flights[i] = s->flights[--s->nflights];
            finish(s, j, key, len, &res);
            break;
        }
    }
}

/* ---- gauges and waiting ---- */

static void update_gauges(struct shipper *s)
{
    int64_t oldest = 0;
    const struct job_list *lists[] = {&s->jobs.ready, &s->jobs.delayed};
    const struct job *j;
    for (size_t l = 0; l < 2; l++)
        TAILQ_FOREACH(j, &lists[l]->jobs, place_link)
            if (j->mtime && (!oldest || j->mtime < oldest))
                oldest = j->mtime;
    for (size_t i = 0; i < s->nflights; i++)
        if (s->flights[i].job->mtime && (!oldest || s->flights[i].job->mtime < oldest))
            oldest = s->flights[i].job->mtime;
    int64_t now = (int64_t)(realtime_ns() / NS_PER_S);
    counter_set(s->seg, CNT_backlog, s->jobs.count);
    counter_set(s->seg, CNT_oldest_age, oldest && now > oldest ? (uint64_t)(now - oldest) : 0);
}

void shipper_tick(struct shipper *s, bool draining)
{
    uint64_t now = monotonic_ns();
    uint64_t next_wake = 0;
    if (!draining) {
        if (now >= s->next_rescan_ns) {
            rescan(s, s->next_rescan_ns == 0 ? "start" : "periodic");
            s->next_rescan_ns = now + SHIPPER_RESCAN_INTERVAL_S * NS_PER_S;
        }
        if (now >= s->next_failed_retry_ns) {
            retry_parked(s);
            s->next_failed_retry_ns = now + (uint64_t)s->cfg->shipper.failed_retry_interval * NS_PER_S;
        }
        consume_queue(s);
        next_wake = jobs_promote_due(&s->jobs, now);
        dispatch(s);
    }
    if (s->multi)
        collect(s);
    if (now >= s->next_gauges_ns) {
        update_gauges(s);
        s->next_gauges_ns = now + NS_PER_S;
    }

    int wait_ms = IDLE_WAIT_MS;
    if (next_wake) {
        uint64_t until = next_wake > now ? (next_wake - now) / NS_PER_MS + 1 : 0;
        if (until < (uint64_t)wait_ms)
            wait_ms = (int)until;
    }
    if (!draining && s->jobs.ready.count > 0 && (!s->s3 || s->nflights < s->cfg->shipper.concurrency))
        wait_ms = 0;
    if (s->nflights > 0)
        curl_multi_poll(s->multi, NULL, 0, wait_ms > 100 ? 100 : wait_ms, NULL);
    else if (wait_ms > 0 && !draining)
        queue_wait(s->seg->queue, wait_ms);
}

size_t shipper_in_flight(const struct shipper *s)
{
    return s->nflights;
}

void shipper_free(struct shipper *s)
{
    for (size_t i = 0; i < s->nflights; i++) {
        curl_multi_remove_handle(s->multi, s3_op_handle(s->flights[i].op));
        s3_op_free(s->flights[i].op);
        free(s->flights[i].data);
        log_warn("event=abandoned file=%s note=\"stays in the spool, shipped at next start\"",
                 s->flights[i].job->name);
    }
    s->nflights = 0;
    if (s->multi)
        curl_multi_cleanup(s->multi);
    s3_client_free(s->s3);
    jobs_free(&s->jobs);
    spooldir_close(&s->spool);
}
