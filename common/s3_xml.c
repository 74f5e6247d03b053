/* The small part of S3's XML that lurker reads (error Code/Message, ListObjectsV2 keys), and how an answer is
 * classified. No XML library: the documents are tiny and flat, and every read is bounded by the caller's buffer. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "s3.h"

/* The value of a numeric character reference's digits in [p, end) ("65" or "x41"); 0 if they are not one. Reads
 * nothing past end: the text comes from the network and is not NUL-terminated. */
static unsigned long char_reference(const char *p, const char *end)
{
    unsigned base = 10;
    if (p < end && *p == 'x') {
        base = 16;
        p++;
    }
    if (p == end)
        return 0;
    unsigned long v = 0;
    for (; p < end; p++) {
        int digit = *p >= '0' && *p <= '9' ? *p - '0'
                    : base == 16 && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                    : base == 16 && *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                                           : -1;
        if (digit < 0)
            return 0;
        v = v * base + (unsigned)digit;
        if (v > 0x10ffff)
            return 0;
    }
    return v;
}

/* Decodes the five XML entities and numeric character references (ASCII range; others are kept as '?'). */
static size_t xml_unescape(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        char c = in[i];
        if (c == '&') {
            const char *semi = memchr(in + i, ';', n - i < 12 ? n - i : 12);
            if (semi) {
                size_t elen = (size_t)(semi - (in + i)) + 1;
                const char *e = in + i;
                char d = 0;
                if (elen == 5 && memcmp(e, "&amp;", 5) == 0)
                    d = '&';
                else if (elen == 4 && memcmp(e, "&lt;", 4) == 0)
                    d = '<';
                else if (elen == 4 && memcmp(e, "&gt;", 4) == 0)
                    d = '>';
                else if (elen == 6 && memcmp(e, "&quot;", 6) == 0)
                    d = '"';
                else if (elen == 6 && memcmp(e, "&apos;", 6) == 0)
                    d = '\'';
                else if (elen > 3 && e[1] == '#') {
                    unsigned long v = char_reference(e + 2, semi);
                    d = v > 0 && v < 128 ? (char)v : '?';
                }
                if (d) {
                    out[o++] = d;
                    i += elen - 1;
                    continue;
                }
            }
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return o;
}

int s3_xml_tag(const char *xml, size_t len, const char *tag, char *out, size_t outlen)
{
    char open[80], close[80];
    int ol = snprintf(open, sizeof open, "<%s>", tag);
    int cl = snprintf(close, sizeof close, "</%s>", tag);
    if (ol <= 0 || cl <= 0 || (size_t)ol >= sizeof open || (size_t)cl >= sizeof close || outlen == 0)
        return -1;
    const char *start = memmem(xml, len, open, (size_t)ol);
    if (!start)
        return -1;
    start += ol;
    const char *end = memmem(start, len - (size_t)(start - xml), close, (size_t)cl);
    if (!end)
        return -1;
    xml_unescape(start, (size_t)(end - start), out, outlen);
    return 0;
}

enum s3_outcome s3_classify(long http_status, const char *code, int *refresh_credentials)
{
    static const char *const transient_codes[] = {
        "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
        "InternalError", "ServiceUnavailable", "ExpiredToken", "TokenRefreshRequired", "RequestExpired",
    };
    static const char *const credential_codes[] = {"ExpiredToken", "TokenRefreshRequired", "RequestExpired"};
    *refresh_credentials = 0;
    for (size_t i = 0; i < sizeof credential_codes / sizeof *credential_codes; i++)
        if (strcmp(code, credential_codes[i]) == 0)
            *refresh_credentials = 1;
    if (http_status >= 200 && http_status < 300)
        return S3_OK;
    if (http_status == 0 || http_status >= 500 || http_status == 429 || http_status == 408)
        return S3_TRANSIENT;
    for (size_t i = 0; i < sizeof transient_codes / sizeof *transient_codes; i++)
        if (strcmp(code, transient_codes[i]) == 0)
            return S3_TRANSIENT;
    return S3_PERMANENT;
}
