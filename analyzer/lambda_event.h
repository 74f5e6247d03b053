/* The S3 objects a Lambda event names. Accepted shapes (nesting bounded):
 *   S3 notification            {"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{...}}]}
 *   SNS wrapping one           {"Records":[{"EventSource":"aws:sns","Sns":{"Message":"<S3 notification JSON>"}}]}
 *   SQS wrapping either        {"Records":[{"eventSource":"aws:sqs","body":"<SNS envelope or S3 notification>"}]}
 * s3:TestEvent messages and events other than ObjectCreated:* are skipped. Keys arrive URL-encoded ('+' is a space)
 * and are decoded here. */
#ifndef ANALYZER_LAMBDA_EVENT_H
#define ANALYZER_LAMBDA_EVENT_H

#include <stddef.h>

#define LAMBDA_MAX_OBJECTS 1024

struct s3_object_ref {
    char bucket[256];
    char key[1024];
};

struct lambda_objects {
    struct s3_object_ref *items;   /* malloc'd */
    size_t n;
    size_t skipped;                /* test events, other event types, records of unknown shape */
};

/* Returns 0, or -1 with err set when the event is not JSON or holds no Records array. */
int lambda_event_objects(const char *body, size_t len, struct lambda_objects *out, char *err, size_t errlen);
void lambda_objects_free(struct lambda_objects *o);

/* URL-decodes an S3 notification key ('+' is a space, %XX a byte) into out. Returns -1 on a bad escape, a NUL byte
 * or when it does not fit. */
int s3_key_decode(const char *in, char *out, size_t outlen);

#endif
