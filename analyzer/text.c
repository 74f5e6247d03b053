#include "text.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Two base64 characters for every 12-bit value: one lookup per two output characters. */
static char base64_pairs[4096][2];

/* What each byte becomes inside a JSON string (itself, '.', or an escape), padded to eight bytes so the writer can
 * store a whole entry and advance by its length. */
static char readable_forms[256][8];
static uint8_t readable_lengths[256];

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

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

static void build_tables(void)
{
    for (int v = 0; v < 4096; v++) {
        base64_pairs[v][0] = alphabet[v >> 6];
        base64_pairs[v][1] = alphabet[v & 63];
    }
    for (int c = 0; c < 256; c++) {
        char one[2];
        const char *f = json_readable_form((uint8_t)c, one);
        readable_lengths[c] = (uint8_t)strlen(f);
        memcpy(readable_forms[c], f, readable_lengths[c]);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/* Twelve bytes to sixteen characters per round with SSSE3, where the CPU has it (Wojciech Muła's base64 encoding:
 * one byte shuffle spreads each three bytes over four, two multiplies move the four 6-bit fields into place, and a
 * shuffle over a 16-entry table adds each field's offset to ASCII). Base64 was a fifth of the analyzer's time.
 * Returns the bytes consumed (a multiple of three); *written: the characters written. */
__attribute__((target("ssse3"))) static size_t base64_ssse3(char *out, const uint8_t *b, size_t n, size_t *written)
{
    const __m128i spread = _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1);
    const __m128i offsets = _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                          '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    size_t i = 0, w = 0;
    for (; i + 16 <= n; i += 12, w += 16) { /* reads 16 bytes, uses 12 */
        __m128i in = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(b + i)), spread);
        __m128i hi = _mm_mulhi_epu16(_mm_and_si128(in, _mm_set1_epi32(0x0fc0fc00)), _mm_set1_epi32(0x04000040));
        __m128i lo = _mm_mullo_epi16(_mm_and_si128(in, _mm_set1_epi32(0x003f03f0)), _mm_set1_epi32(0x01000010));
        __m128i fields = _mm_or_si128(hi, lo);                           /* sixteen values 0..63 */
        __m128i range = _mm_subs_epu8(fields, _mm_set1_epi8(51));        /* 0..51 -> 0, 52..63 -> 1..12 */
        __m128i upper = _mm_cmpgt_epi8(_mm_set1_epi8(26), fields);       /* 0..25 -> 13 */
        range = _mm_or_si128(range, _mm_and_si128(upper, _mm_set1_epi8(13)));
        __m128i ascii = _mm_add_epi8(_mm_shuffle_epi8(offsets, range), fields);
        _mm_storeu_si128((__m128i *)(void *)(out + w), ascii);
    }
    *written = w;
    return i;
}
#endif

size_t text_base64_into(char *out, const uint8_t *b, size_t n)
{
    pthread_once(&tables_once, build_tables);
    char *o = out;
    size_t i = 0;
#if defined(__x86_64__)
    if (n >= 16 && __builtin_cpu_supports("ssse3")) {
        size_t written;
        i = base64_ssse3(out, b, n, &written);
        o += written;
    }
#endif
    for (; i + 8 <= n; i += 6) { /* six bytes per round from one 64-bit load: four lookups, eight characters */
        uint64_t v;
        memcpy(&v, b + i, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        memcpy(o, base64_pairs[(v >> 52) & 0xfff], 2);
        memcpy(o + 2, base64_pairs[(v >> 40) & 0xfff], 2);
        memcpy(o + 4, base64_pairs[(v >> 28) & 0xfff], 2);
        memcpy(o + 6, base64_pairs[(v >> 16) & 0xfff], 2);
        o += 8;
    }
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        memcpy(o, base64_pairs[v >> 12], 2);
        memcpy(o + 2, base64_pairs[v & 0xfff], 2);
        o += 4;
    }
    if (i < n) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0);
        o[0] = alphabet[v >> 18];
        o[1] = alphabet[(v >> 12) & 63];
        o[2] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

char *text_base64(const uint8_t *b, size_t n, size_t *outlen)
{
    char *out = malloc(TEXT_BASE64_LEN(n) + 1);
    if (!out)
        return NULL;
    size_t w = text_base64_into(out, b, n);
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

/* Sixteen bytes at a time with GCC/Clang vector extensions (SSE2 on x86-64, NEON on arm64, plain code elsewhere):
 * the block's bytes with the unprintable ones turned into '.' are stored whole, kept up to the first byte that needs
 * an escape (a quote, a backslash, whitespace), which is written from the table; the next block starts after it. */
typedef uint8_t bytes16 __attribute__((vector_size(16)));

/* Index of the first byte needing an escape in the block, or 16. */
static unsigned first_escape(bytes16 v)
{
    bytes16 esc = (bytes16)((v == '"') | (v == '\\') | ((bytes16)(v - '\t') <= (uint8_t)('\r' - '\t')));
    uint64_t half[2];
    memcpy(half, &esc, sizeof half);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (half[0])
        return (unsigned)__builtin_ctzll(half[0]) / 8;
    if (half[1])
        return 8 + (unsigned)__builtin_ctzll(half[1]) / 8;
    return 16;
#else
    for (unsigned k = 0; k < 16; k++)
        if (esc[k])
            return k;
    return 16;
#endif
}

size_t text_readable_json_into(char *out, const uint8_t *b, size_t n)
{
    pthread_once(&tables_once, build_tables);
    char *o = out;
    size_t i = 0;
    while (i + 16 <= n) {
        bytes16 v;
        memcpy(&v, b + i, 16);
        bytes16 printable = (bytes16)((bytes16)(v - 0x20) < 0x5f);
        bytes16 dots = (bytes16){ 0 } + '.';
        bytes16 shown = (v & printable) | (dots & ~printable);
        memcpy(o, &shown, 16);
        unsigned k = first_escape(v);
        o += k;
        i += k;
        if (k < 16) {
            memcpy(o, readable_forms[b[i]], 8);
            o += readable_lengths[b[i]];
            i++;
        }
    }
    for (; i < n; i++) {
        memcpy(o, readable_forms[b[i]], 8);
        o += readable_lengths[b[i]];
    }
    return (size_t)(o - out);
}

char *text_readable_json(const uint8_t *b, size_t n, size_t *outlen)
{
    pthread_once(&tables_once, build_tables);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += readable_lengths[b[i]];
    char *out = malloc(len + 8 + 1);
    if (!out)
        return NULL;
    size_t w = text_readable_json_into(out, b, n);
    out[w] = '\0';
    *outlen = w;
    return out;
}
