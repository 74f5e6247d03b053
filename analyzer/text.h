/* Byte-to-text conversions for records: base64 and the original tool's "readable" rendering. */
#ifndef ANALYZER_TEXT_H
#define ANALYZER_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Characters text_base64_into() writes for n bytes. */
#define TEXT_BASE64_LEN(n) (((n) + 2) / 3 * 4)
/* Most characters text_readable_json_into() writes for n bytes (an escaped \u000b is six). */
#define TEXT_READABLE_JSON_MAX(n) ((n) * 6)

/* v's decimal digits, written backwards so that they end just before end; returns where they start (at most 20
 * characters). By hand: printf is a visible cost in a record and in a JA3 string. */
static inline char *text_decimal(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* Standard base64 with padding into a malloc'd NUL-terminated string; *outlen set. NULL when out of memory. */
char *text_base64(const uint8_t *b, size_t n, size_t *outlen);

/* Standard base64 with padding into out, which has room for TEXT_BASE64_LEN(n) characters (no NUL written).
 * Returns the characters written. */
size_t text_base64_into(char *out, const uint8_t *b, size_t n);

/* Bytes 0x20-0x7E and whitespace (\t \n \v \f \r) kept, everything else as '.'; malloc'd, NUL-terminated. */
char *text_readable(const uint8_t *b, size_t n);

/* text_readable() of b, already escaped as the body of a JSON string (quotes, backslashes and the whitespace
 * escaped), in one pass; malloc'd, NUL-terminated, *outlen set. NULL when out of memory. */
char *text_readable_json(const uint8_t *b, size_t n, size_t *outlen);

/* The same into out, which has room for TEXT_READABLE_JSON_MAX(n) + 8 characters (the loop stores eight bytes at a
 * time; no NUL written). Returns the characters written. */
size_t text_readable_json_into(char *out, const uint8_t *b, size_t n);

#endif
