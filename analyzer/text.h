/* Byte-to-text conversions for records: base64 and the original tool's "readable" rendering. */
#ifndef ANALYZER_TEXT_H
#define ANALYZER_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Standard base64 with padding into a malloc'd NUL-terminated string; *outlen set. NULL when out of memory. */
char *text_base64(const uint8_t *b, size_t n, size_t *outlen);

/* Bytes 0x20-0x7E and whitespace (\t \n \v \f \r) kept, everything else as '.'; malloc'd, NUL-terminated. */
char *text_readable(const uint8_t *b, size_t n);

/* text_readable() of b, already escaped as the body of a JSON string (quotes, backslashes and the whitespace
 * escaped), in one pass; malloc'd, NUL-terminated, *outlen set. NULL when out of memory. */
char *text_readable_json(const uint8_t *b, size_t n, size_t *outlen);

#endif
