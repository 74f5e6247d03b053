/* TLS ClientHello: version, SNI, ALPN and the JA3 fingerprint (Salesforce's JA3: MD5 of
 * "Version,Ciphers,Extensions,Groups,PointFormats", decimal values joined by '-', GREASE values left out — the same
 * as Wireshark's tls.handshake.ja3). */
#include "recognise.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "text.h"

#define TLS_MAX_HELLO 65536

static bool is_grease(unsigned v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* A growing decimal list "a-b-c" for JA3; sized for the whole ClientHello so it cannot overflow. */
struct ja3_text {
    char *s;
    size_t len, size;
    bool first;
};

/* Appends "-v" (or "v" first in its list). */
static void ja3_value(struct ja3_text *t, unsigned v)
{
    char digits[24], *end = digits + sizeof digits, *d = text_decimal(end, v);
    if (!t->first)
        *--d = '-';
    size_t n = (size_t)(end - d);
    if (n < t->size - t->len) {
        memcpy(t->s + t->len, d, n);
        t->len += n;
        t->s[t->len] = '\0';
    }
    t->first = false;
}

static void ja3_field_end(struct ja3_text *t, bool last)
{
    if (!last && t->len + 1 < t->size)
        t->s[t->len++] = ',';
    t->s[t->len] = '\0';
    t->first = true;
}

static const char *version_name(unsigned v, char *buf, size_t size)
{
    switch (v) {
    case 0x0300: return "SSL 3.0";
    case 0x0301: return "TLS 1.0";
    case 0x0302: return "TLS 1.1";
    case 0x0303: return "TLS 1.2";
    case 0x0304: return "TLS 1.3";
    default:
        snprintf(buf, size, "0x%04x", v);
        return buf;
    }
}

/* Gathers the handshake bytes of consecutive handshake records (a ClientHello may span several). */
static size_t gather_handshake(const uint8_t *b, size_t n, uint8_t *out, size_t size)
{
    size_t at = 0, len = 0;
    while (n - at >= 5 && b[at] == 22 && b[at + 1] == 3) {
        size_t rlen = (size_t)b[at + 3] << 8 | b[at + 4];
        size_t have = n - at - 5 < rlen ? n - at - 5 : rlen;
        if (have > size - len)
            have = size - len;
        memcpy(out + len, b + at + 5, have);
        len += have;
        at += 5 + have;
        if (have < rlen || (len >= 4 && len >= 4 + ((size_t)out[1] << 16 | (size_t)out[2] << 8 | out[3])))
            break;
    }
    return len;
}

static void parse_extensions(struct cursor *ext, struct recognised *out, struct ja3_text *exts,
                             struct ja3_text *groups, struct ja3_text *formats, unsigned *best_version)
{
    while (!ext->bad && ext->at < ext->n) {
        unsigned type = cursor_u16(ext);
        struct cursor body = cursor_sub(ext, cursor_u16(ext));
        if (ext->bad)
            break;
        if (!is_grease(type))
            ja3_value(exts, type);
        if (type == 0) { /* server_name */
            struct cursor list = cursor_sub(&body, cursor_u16(&body));
            while (!list.bad && list.at < list.n) {
                unsigned kind = cursor_u8(&list);
                struct cursor name = cursor_sub(&list, cursor_u16(&list));
                if (!list.bad && kind == 0 && !out->tls_sni[0]) {
                    recognise_copy_printable(out->tls_sni, sizeof out->tls_sni, name.b, name.n);
                }
            }
        } else if (type == 16) { /* ALPN */
            struct cursor list = cursor_sub(&body, cursor_u16(&body));
            while (!list.bad && list.at < list.n) {
                struct cursor proto = cursor_sub(&list, cursor_u8(&list));
                if (!list.bad && out->tls_nalpn < TLS_MAX_ALPN) {
                    char *slot = out->tls_alpn[out->tls_nalpn++];
                    recognise_copy_printable(slot, sizeof out->tls_alpn[0], proto.b, proto.n);
                }
            }
        } else if (type == 10) { /* supported_groups */
            struct cursor list = cursor_sub(&body, cursor_u16(&body));
            while (!list.bad && list.n - list.at >= 2) {
                unsigned g = cursor_u16(&list);
                if (!is_grease(g))
                    ja3_value(groups, g);
            }
        } else if (type == 11) { /* ec_point_formats */
            struct cursor list = cursor_sub(&body, cursor_u8(&body));
            while (!list.bad && list.at < list.n)
                ja3_value(formats, cursor_u8(&list));
        } else if (type == 43) { /* supported_versions */
            struct cursor list = cursor_sub(&body, cursor_u8(&body));
            while (!list.bad && list.n - list.at >= 2) {
                unsigned v = cursor_u16(&list);
                if (!is_grease(v) && v > *best_version && v <= 0x0304)
                    *best_version = v;
            }
        }
    }
}

/* OpenSSL 3 looks an algorithm up by name on every EVP_md5() digest unless it was fetched once: half the cost of a
 * ClientHello. */
static EVP_MD *md5;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void fetch_md5(void)
{
    md5 = EVP_MD_fetch(NULL, "MD5", NULL);
}

static void md5_hex(const char *s, size_t len, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    out[0] = '\0';
    pthread_once(&md5_once, fetch_md5);
    if (!md5 || !EVP_Digest(s, len, digest, &dlen, md5, NULL) || dlen != 16)
        return;
    for (unsigned i = 0; i < 16; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[32] = '\0';
}

bool recognise_tls(const uint8_t *b, size_t n, struct recognised *out)
{
    if (n < 9 || b[0] != 22 || b[1] != 3 || b[5] != 1)
        return false;
    uint8_t *hs = malloc(TLS_MAX_HELLO);
    if (!hs)
        return false;
    size_t hlen = gather_handshake(b, n, hs, TLS_MAX_HELLO);
    struct cursor r = cursor_of(hs, hlen);
    bool ok = false;
    if (cursor_u8(&r) != 1)
        goto done;
    size_t body_len = (size_t)cursor_u8(&r) << 16;
    body_len |= cursor_u16(&r);
    struct cursor hello = cursor_sub(&r, body_len < cursor_left(&r) ? body_len : cursor_left(&r));
    unsigned version = cursor_u16(&hello);
    cursor_take(&hello, 32); /* random */
    cursor_sub(&hello, cursor_u8(&hello)); /* session id */
    struct cursor ciphers = cursor_sub(&hello, cursor_u16(&hello));
    cursor_sub(&hello, cursor_u8(&hello)); /* compression methods */
    if (hello.bad)
        goto done;

    /* room for every value as up to 5 digits and a separator, in each list */
    size_t size = 16 + 6 * (hlen + 8);
    char *text = malloc(size);
    if (!text)
        goto done;
    struct ja3_text ja3 = { .s = text, .size = size, .first = true };
    ja3_value(&ja3, version);
    ja3_field_end(&ja3, false);
    while (ciphers.n - ciphers.at >= 2) {
        unsigned c = cursor_u16(&ciphers);
        if (!is_grease(c))
            ja3_value(&ja3, c);
    }
    ja3_field_end(&ja3, false);

    /* extensions, groups and point formats go to three separate lists, joined afterwards */
    char *groups_s = malloc(size), *formats_s = malloc(size);
    if (!groups_s || !formats_s) {
        free(groups_s);
        free(formats_s);
        free(text);
        goto done;
    }
    struct ja3_text groups = { .s = groups_s, .size = size, .first = true };
    struct ja3_text formats = { .s = formats_s, .size = size, .first = true };
    groups_s[0] = formats_s[0] = '\0';
    unsigned best = version;
    if (hello.n - hello.at >= 2) {
        struct cursor ext = cursor_sub(&hello, cursor_u16(&hello));
        parse_extensions(&ext, out, &ja3, &groups, &formats, &best);
    }
    ja3_field_end(&ja3, false);
    size_t k = (size_t)snprintf(ja3.s + ja3.len, ja3.size - ja3.len, "%s,%s", groups_s, formats_s);
    if (k < ja3.size - ja3.len)
        ja3.len += k;
    md5_hex(ja3.s, ja3.len, out->tls_ja3);
    if (ja3.len < sizeof out->tls_ja3_full)
        memcpy(out->tls_ja3_full, ja3.s, ja3.len + 1);
    char vbuf[8];
    snprintf(out->tls_version, sizeof out->tls_version, "%s", version_name(best, vbuf, sizeof vbuf));
    free(groups_s);
    free(formats_s);
    free(text);
    ok = true;
done:
    free(hs);
    return ok;
}
