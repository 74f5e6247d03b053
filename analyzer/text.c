#include "text.h"

#include <stdlib.h>
#include <string.h>

char *text_base64(const uint8_t *b, size_t n, size_t *outlen)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (n + 2) / 3 * 4;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t w = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        out[w++] = alphabet[v >> 18];
        out[w++] = alphabet[(v >> 12) & 63];
        out[w++] = alphabet[(v >> 6) & 63];
        out[w++] = alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0);
        out[w++] = alphabet[v >> 18];
        out[w++] = alphabet[(v >> 12) & 63];
        out[w++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out[w++] = '=';
    }
    out[w] = '\0';
    *outlen = w;
    return out;
}

char *text_readable(const uint8_t *b, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        out[i] = (c >= 0x20 && c <= 0x7e) || (c >= '\t' && c <= '\r') ? (char)c : '.';
    }
    out[n] = '\0';
    return out;
}

/* What each byte becomes inside a JSON string: itself, '.', or an escape. */
static const char *json_readable_form(uint8_t c, char *one)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\t': return "\\t";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\f': return "\\f";
    case '\v': return "\\u000b";
    default:
        one[0] = (c >= 0x20 && c <= 0x7e) ? (char)c : '.';
        one[1] = '\0';
        return one;
    }
}

char *text_readable_json(const uint8_t *b, size_t n, size_t *outlen)
{
    static char forms[256][8];
    static uint8_t lengths[256];
    if (lengths[0] == 0) { /* built once; idempotent, so a race would write the same bytes */
        for (int c = 0; c < 256; c++) {
            char one[2];
            const char *f = json_readable_form((uint8_t)c, one);
            lengths[c] = (uint8_t)strlen(f);
            memcpy(forms[c], f, lengths[c] + 1);
        }
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += lengths[b[i]];
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        if (lengths[c] == 1)
            out[w++] = forms[c][0];
        else {
            memcpy(out + w, forms[c], lengths[c]);
            w += lengths[c];
        }
    }
    out[w] = '\0';
    *outlen = w;
    return out;
}
