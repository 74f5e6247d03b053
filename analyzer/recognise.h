/* What a flow's bytes say about the protocol spoken, from content (never from the port alone). Every string kept
 * here is already sanitised: printable ASCII only, anything else as '.', bounded by its array. */
#ifndef ANALYZER_RECOGNISE_H
#define ANALYZER_RECOGNISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_MAX_ALPN 8

struct recognised {
    const char *service;       /* "ssh", "http", "tls", "rdp", "redis", "dns", "smb", "sip", "unknown" or NULL */
    char ssh_banner[256];
    char ssh_server_banner[256];
    char http_method[24];
    char http_path[1024];
    char http_version[16];
    char http_host[256];
    char http_user_agent[512];
    char tls_version[16];      /* highest offered: supported_versions if present, else the ClientHello version */
    char tls_sni[256];
    size_t tls_nalpn;
    char tls_alpn[TLS_MAX_ALPN][64];
    char tls_ja3_full[1024];   /* empty when it would not fit */
    char tls_ja3[33];          /* MD5 hex of the full JA3 string */
    char rdp_cookie[256];
    char redis_command[64];
    char dns_qname[256];
    int dns_qtype;             /* -1 when no query */
};

/* Looks at what the client sent (payload) and what the server sent (server_payload). is_udp: datagram flow. */
void recognise(const uint8_t *client, size_t client_len, const uint8_t *server, size_t server_len, bool is_udp,
               struct recognised *out);

/* The individual recognisers, each returning true when the bytes are theirs (exposed for tests and fuzzing). */
bool recognise_ssh(const uint8_t *b, size_t n, char *banner, size_t banner_size);
bool recognise_http(const uint8_t *b, size_t n, struct recognised *out);
bool recognise_tls(const uint8_t *b, size_t n, struct recognised *out);
bool recognise_rdp(const uint8_t *b, size_t n, struct recognised *out);
bool recognise_redis(const uint8_t *b, size_t n, struct recognised *out);
bool recognise_dns(const uint8_t *b, size_t n, struct recognised *out);

/* Copies n bytes into dst (size > 0) keeping printable ASCII and turning everything else into '.'. */
void recognise_copy_printable(char *dst, size_t size, const uint8_t *src, size_t n);

#endif
