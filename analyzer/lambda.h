/* AWS Lambda custom runtime (provided.al2023): the Runtime API loop over libcurl. For each invocation: take the
 * event, analyse every S3 object it names (records go to stdout, which Lambda sends to CloudWatch Logs), then post
 * a response listing per-object errors, or an invocation error when the event was unusable or no object of it could
 * be fetched (so Lambda's retry can try again; a broken pcap is not retried). With LURKER_RECORDS_BUCKET set, the
 * records of each pcap also go to S3 as JSON Lines (records_s3.h); an invocation whose records could not all be
 * written there fails, so that Lambda retries it. Log lines are JSON with a level (lambda_log.h). Returns only when
 * the Runtime API stays unreachable. */
#ifndef ANALYZER_LAMBDA_H
#define ANALYZER_LAMBDA_H

#include "run.h"
#include "s3_input.h"

int lambda_main(const char *runtime_api, struct run *run, struct s3_input *s3);

#endif
