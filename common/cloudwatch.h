/* CloudWatch PutMetricData (the Query API: a form-encoded POST), signed with SigV4 like the S3 uploads, using the
 * same credential chain. Endpoint: the given override, else AWS_ENDPOINT_URL_CLOUDWATCH / AWS_ENDPOINT_URL, else
 * https://monitoring.REGION.amazonaws.com. */
#ifndef LURKER_CLOUDWATCH_H
#define LURKER_CLOUDWATCH_H

#include <stddef.h>

#include "aws_creds.h"

#define CLOUDWATCH_MAX_DIMENSIONS 2

struct metric_datum {
    const char *name;
    double value;
    const char *unit;                      /* "Count", "Seconds", "None" */
    const char *dim_names[CLOUDWATCH_MAX_DIMENSIONS];
    const char *dim_values[CLOUDWATCH_MAX_DIMENSIONS];
};

struct cloudwatch_target {
    const char *endpoint;                  /* "" for the default */
    const char *region;                    /* "" for AWS_REGION / AWS_DEFAULT_REGION / us-east-1 */
    const char *namespace_;
};

/* Publishes n data points (in requests of 20). Returns 0, or -1 with the reason (HTTP status and AWS error code
 * when there was an answer) in err. */
int cloudwatch_put(const struct cloudwatch_target *t, struct aws_creds_provider *creds, const struct metric_datum *m,
                   size_t n, char *err, size_t errlen);

#endif
