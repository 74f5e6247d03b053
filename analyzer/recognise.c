#include "recognise.h"

#include <string.h>

void recognise_copy_printable(char *dst, size_t size, const uint8_t *src, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n && w + 1 < size; i++)
        dst[w++] = (src[i] >= 0x20 && src[i] <= 0x7e) ? (char)src[i] : '.';
    dst[w] = '\0';
}

static bool starts_with(const uint8_t *b, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(b, prefix, k) == 0;
}

/* SMB1/SMB2 over NetBIOS session service: a 4-byte length, then \xffSMB or \xfeSMB. */
static bool looks_like_smb(const uint8_t *b, size_t n)
{
    return n >= 8 && b[0] == 0 && (b[4] == 0xff || b[4] == 0xfe) && memcmp(b + 5, "SMB", 3) == 0;
}

static bool looks_like_sip(const uint8_t *b, size_t n)
{
    static const char *methods[] = { "OPTIONS sip:", "REGISTER sip:", "INVITE sip:", "SIP/2.0 " };
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (starts_with(b, n, methods[i]))
            return true;
    return false;
}

void recognise(const uint8_t *client, size_t client_len, const uint8_t *server, size_t server_len, bool is_udp,
               struct recognised *out)
{
    /* every text empty: its first byte, not the whole 6 KiB of the struct (a visible cost per flow) */
    out->service = NULL;
    out->ssh_banner[0] = out->ssh_server_banner[0] = '\0';
    out->http_method[0] = out->http_path[0] = out->http_version[0] = out->http_host[0] = out->http_user_agent[0] = '\0';
    out->tls_version[0] = out->tls_sni[0] = out->tls_ja3_full[0] = out->tls_ja3[0] = '\0';
    out->tls_nalpn = 0;
    out->rdp_cookie[0] = out->redis_command[0] = out->dns_qname[0] = '\0';
    out->dns_qtype = -1;
    if (recognise_ssh(server, server_len, out->ssh_server_banner, sizeof out->ssh_server_banner))
        out->service = "ssh";
    if (client_len == 0)
        return;
    if (recognise_ssh(client, client_len, out->ssh_banner, sizeof out->ssh_banner))
        out->service = "ssh";
    else if (looks_like_sip(client, client_len))
        out->service = "sip";
    else if (recognise_http(client, client_len, out))
        out->service = "http";
    else if (recognise_tls(client, client_len, out))
        out->service = "tls";
    else if (recognise_rdp(client, client_len, out))
        out->service = "rdp";
    else if (recognise_redis(client, client_len, out))
        out->service = "redis";
    else if (looks_like_smb(client, client_len))
        out->service = "smb";
    else if (is_udp ? recognise_dns(client, client_len, out)
                    : (client_len > 2 && recognise_dns(client + 2, client_len - 2, out)))
        out->service = "dns";
    else if (!out->service)
        out->service = "unknown";
}
