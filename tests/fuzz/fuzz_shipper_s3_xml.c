/* libFuzzer: the S3 response parsing (common/s3_xml.c's s3_xml_tag, which the error, list and multipart paths use,
 * and s3_classify on what it extracts). Invariants: an extracted value is NUL-terminated inside its buffer and holds
 * no NUL before its end; nothing reads past the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

static const char *const tags[] = {"Code", "Message", "Key", "Size", "IsTruncated", "NextContinuationToken",
                                   "Contents", "RequestId", "ETag"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = malloc(size ? size : 1); /* exactly the input's bytes: ASan sees any read past them */
    if (!xml)
        return 0;
    memcpy(xml, data, size);
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        char out[64];
        memset(out, 'x', sizeof out);
        if (s3_xml_tag(xml, size, tags[i], out, sizeof out) == 0) {
            if (memchr(out, '\0', sizeof out) == NULL)
                abort();
            if (i == 0) {
                int refresh = 0;
                s3_classify(400, out, &refresh);
                s3_classify(503, out, &refresh);
            }
        }
    }
    char tiny[1];
    s3_xml_tag(xml, size, "Key", tiny, sizeof tiny);
    free(xml);
    return 0;
}
