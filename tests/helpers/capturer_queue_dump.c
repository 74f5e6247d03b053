/* Test helper: drains the finished-flow queue of shared-memory segment NAME and prints one JSON object per record
 * (what a shipper would receive from the capturer). usage: capturer_queue_dump NAME */
#include <stdio.h>

#include "queue.h"
#include "shm.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SHM_NAME\n", argv[0]);
        return 2;
    }
    struct shm_segment seg;
    char err[256];
    if (shm_attach_existing(argv[1], &seg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct queue_record rec;
    while (queue_peek(seg.queue, &rec) == QUEUE_OK) {
        if (!queue_record_valid(&rec)) {
            fprintf(stderr, "invalid record %llu\n", (unsigned long long)rec.seq);
            return 1;
        }
        const struct flow_id *id = &rec.key.id;
        printf("{\"seq\": %llu, \"name\": \"%s\", \"batch\": %s, \"proto\": %u, \"family\": %u, \"src_port\": %u, "
               "\"dst_port\": %u, \"flags\": %u, \"first_us\": %llu, \"last_us\": %llu, \"packets\": %llu, "
               "\"bytes\": %llu, \"file_size\": %llu}\n",
               (unsigned long long)rec.seq, rec.name, rec.key.batch ? "true" : "false", id->proto, id->remote.family,
               id->remote_port, id->local_port, rec.flags, (unsigned long long)rec.key.first_us,
               (unsigned long long)rec.last_us, (unsigned long long)rec.packets, (unsigned long long)rec.bytes,
               (unsigned long long)rec.file_size);
        queue_commit(seg.queue, rec.seq);
    }
    shm_detach(&seg);
    return 0;
}
