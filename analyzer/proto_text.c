/* Recognisers for the line-oriented protocols: SSH identification, HTTP requests, RDP's X.224 cookie, Redis. */
#include "recognise.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Length of the line at b (without its \r\n or \n), bounded by n. */
static size_t line_length(const uint8_t *b, size_t n)
{
    const uint8_t *nl = memchr(b, '\n', n);
    size_t len = nl ? (size_t)(nl - b) : n;
    if (len > 0 && b[len - 1] == '\r')
        len--;
    return len;
}

bool recognise_ssh(const uint8_t *b, size_t n, char *banner, size_t banner_size)
{
    if (n < 4 || memcmp(b, "SSH-", 4) != 0)
        return false;
    size_t len = line_length(b, n < 255 ? n : 255); /* RFC 4253: at most 255 characters */
    recognise_copy_printable(banner, banner_size, b, len);
    return true;
}

static bool is_token_char(uint8_t c)
{
    return c >= 'A' && c <= 'Z';
}

bool recognise_http(const uint8_t *b, size_t n, struct recognised *out)
{
    size_t line = line_length(b, n < 8192 ? n : 8192);
    size_t m = 0;
    while (m < line && m < 20 && is_token_char(b[m]))
        m++;
    if (m < 3 || m >= line || b[m] != ' ')
        return false;
    const uint8_t *path = b + m + 1;
    size_t rest = line - m - 1;
    const uint8_t *sp = memchr(path, ' ', rest);
    if (!sp || (size_t)(b + line - sp - 1) < 8 || memcmp(sp + 1, "HTTP/", 5) != 0)
        return false;
    recognise_copy_printable(out->http_method, sizeof out->http_method, b, m);
    recognise_copy_printable(out->http_path, sizeof out->http_path, path, (size_t)(sp - path));
    recognise_copy_printable(out->http_version, sizeof out->http_version, sp + 1 + 5, (size_t)(b + line - sp - 1 - 5));

    /* header lines until the empty line or the end of what was sent */
    size_t at = line + ((line < n && b[line] == '\r') ? 1 : 0) + 1;
    while (at < n) {
        size_t len = line_length(b + at, n - at);
        if (len == 0)
            break;
        const uint8_t *h = b + at;
        const uint8_t *colon = memchr(h, ':', len);
        if (colon) {
            size_t name = (size_t)(colon - h), vstart = name + 1;
            while (vstart < len && (h[vstart] == ' ' || h[vstart] == '\t'))
                vstart++;
            if (name == 4 && strncasecmp((const char *)h, "host", 4) == 0)
                recognise_copy_printable(out->http_host, sizeof out->http_host, h + vstart, len - vstart);
            else if (name == 10 && strncasecmp((const char *)h, "user-agent", 10) == 0)
                recognise_copy_printable(out->http_user_agent, sizeof out->http_user_agent, h + vstart, len - vstart);
        }
        at += len + ((at + len < n && h[len] == '\r') ? 1 : 0) + 1;
    }
    return true;
}

/* TPKT (03 00 LEN) carrying an X.224 Connection Request (code 0xE0), optionally "Cookie: mstshash=NAME\r\n". */
bool recognise_rdp(const uint8_t *b, size_t n, struct recognised *out)
{
    if (n < 11 || b[0] != 3 || b[1] != 0 || (b[5] & 0xf0) != 0xe0)
        return false;
    size_t tpkt = (size_t)b[2] << 8 | b[3];
    if (tpkt < 11 || b[4] + 5u > tpkt)
        return false;
    size_t end = tpkt < n ? tpkt : n;
    static const char cookie[] = "Cookie: mstshash=";
    size_t k = sizeof cookie - 1;
    if (end > 11 + k && memcmp(b + 11, cookie, k) == 0) {
        size_t len = line_length(b + 11 + k, end - 11 - k);
        recognise_copy_printable(out->rdp_cookie, sizeof out->rdp_cookie, b + 11 + k, len);
    }
    return true;
}

/* RESP arrays (*N\r\n$LEN\r\nCOMMAND...) or an inline command Redis is known for. */
bool recognise_redis(const uint8_t *b, size_t n, struct recognised *out)
{
    if (n >= 4 && b[0] == '*' && isdigit(b[1])) {
        size_t at = 1;
        while (at < n && isdigit(b[at]))
            at++;
        if (at + 2 >= n || b[at] != '\r' || b[at + 1] != '\n' || b[at + 2] != '$')
            return false;
        at += 3;
        size_t len = 0;
        while (at < n && isdigit(b[at]) && len < 100000)
            len = len * 10 + (size_t)(b[at++] - '0');
        if (at + 2 > n || b[at] != '\r' || b[at + 1] != '\n')
            return false;
        at += 2;
        size_t have = n - at < len ? n - at : len;
        recognise_copy_printable(out->redis_command, sizeof out->redis_command, b + at, have);
    } else {
        static const char *inline_commands[] = { "PING", "INFO", "CONFIG", "SLAVEOF", "REPLICAOF", "FLUSHALL",
                                                 "MODULE", "EVAL", "AUTH", "KEYS" };
        size_t i, k = 0;
        for (i = 0; i < sizeof inline_commands / sizeof *inline_commands; i++) {
            k = strlen(inline_commands[i]);
            if (n >= k && strncasecmp((const char *)b, inline_commands[i], k) == 0 &&
                (n == k || b[k] == ' ' || b[k] == '\r' || b[k] == '\n'))
                break;
        }
        if (i == sizeof inline_commands / sizeof *inline_commands)
            return false;
        recognise_copy_printable(out->redis_command, sizeof out->redis_command, b, k);
    }
    for (char *c = out->redis_command; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return out->redis_command[0] != '\0';
}
