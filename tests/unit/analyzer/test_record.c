/* The record writer (analyzer/record.c): records of flows set up here by hand, parsed back with jansson and checked
 * member by member against values worked out by hand (dates, base64, the readable text, counters, reasons). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>

#include "../../../analyzer/record.h"

static struct flow tcp_flow(void)
{
    struct flow f = { .family = 4, .proto = IPPROTO_TCP, .addr = { { 198, 51, 100, 2 }, { 203, 0, 113, 10 } },
                      .port = { 40000, 80 }, .client = 0,
                      .first = { .sec = 1764098401, .nsec = 250000000 },   /* 2025-11-25T19:20:01.25Z */
                      .last = { .sec = 1764098403, .nsec = 750000999 } };
    f.dir[0] = (struct flow_direction){ .packets = 4, .ip_bytes = 204, .syn = true, .acked_peer_synack = true,
                                        .rst = true };
    f.dir[1] = (struct flow_direction){ .packets = 2, .ip_bytes = 80, .synack = true, .fin = true };
    return f;
}

static struct recognised nothing_recognised(void)
{
    struct recognised r;
    memset(&r, 0, sizeof r);
    r.dns_qtype = -1;
    return r;
}

/* The record's line, checked to be one line ending in '\n', parsed. */
static json_t *write_and_parse(const struct record_input *in)
{
    struct record_buffer buffer = { 0 };
    struct record rec;
    record_prepare(in, &buffer, &rec);
    const char *line;
    size_t len;
    cr_assert_eq(record_json_line(&rec, &line, &len), 0);
    cr_assert(len > 2 && line[len - 1] == '\n');
    cr_assert_null(memchr(line, '\n', len - 1), "one line");
    json_error_t e;
    json_t *o = json_loadb(line, len - 1, 0, &e);
    cr_assert(o, "not JSON: %s: %.*s", e.text, (int)len, line);
    record_buffer_free(&buffer);
    return o;
}

static json_int_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static bool flag(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_boolean(v), "%s is not a boolean", key);
    return json_is_true(v);
}

Test(record, tcp_flow_member_by_member)
{
    struct flow f = tcp_flow();
    const char request[] = "GET /\tx\"\\\x01\xff";
    struct stream client = { .bytes = (uint8_t *)request, .len = sizeof request - 1, .retransmissions = 1,
                             .overlaps = 2, .out_of_order = 3, .ngaps = 1, .gap_bytes = 7,
                             .gaps = { { .offset = 5, .length = 7 } } };
    struct stream server = { .bytes = (uint8_t *)"SSH-2.0-x\r\n", .len = 11, .overlap_conflicts = 4 };
    struct recognised seen = nothing_recognised();
    seen.service = "http";
    snprintf(seen.http_method, sizeof seen.http_method, "GET");
    snprintf(seen.http_path, sizeof seen.http_path, "/");
    struct analyze_source src = { .s3path = "s3://b/edge-1/pcap/x.pcap", .sensor = "edge-1" };
    struct record_input in = { .flow = &f, .started_by = STARTED_BY_OUTSIDER, .client = &client, .server = &server,
                               .seen = &seen, .src = &src };
    json_t *o = write_and_parse(&in);

    cr_assert_eq(num(o, "schema_version"), 1);
    cr_assert_eq(num(o, "init_ts"), 1764098401);
    cr_assert_eq(num(o, "last_ts"), 1764098403);
    cr_assert_str_eq(str(o, "init_time"), "2025-11-25T19:20:01.250000Z");
    cr_assert_str_eq(str(o, "last_time"), "2025-11-25T19:20:03.750000Z", "microseconds, truncated");
    cr_assert(json_is_real(json_object_get(o, "duration")));
    cr_assert_float_eq(json_real_value(json_object_get(o, "duration")), 2.500000, 1e-12, "whole microseconds");
    cr_assert_str_eq(str(o, "proto"), "tcp");
    cr_assert_str_eq(str(o, "src_addr"), "198.51.100.2");
    cr_assert_eq(num(o, "src_port"), 40000);
    cr_assert_str_eq(str(o, "dst_addr"), "203.0.113.10");
    cr_assert_eq(num(o, "dst_port"), 80);
    cr_assert_str_eq(str(o, "started_by"), "outsider");
    cr_assert_str_eq(str(o, "sensor"), "edge-1");
    cr_assert_str_eq(str(o, "s3path"), "s3://b/edge-1/pcap/x.pcap");
    cr_assert_eq(num(o, "packets"), 6);
    cr_assert_eq(num(o, "bytes"), 284);
    cr_assert_eq(num(o, "client_packets"), 4);
    cr_assert_eq(num(o, "server_packets"), 2);
    cr_assert(flag(o, "handshake"));
    const json_t *t = json_object_get(o, "tcp");
    cr_assert(flag(t, "syn") && flag(t, "synack") && !flag(t, "client_fin") && flag(t, "server_fin") &&
              flag(t, "client_rst") && !flag(t, "server_rst"));
    cr_assert_null(json_object_get(o, "icmp"));
    cr_assert_eq(num(o, "retransmissions"), 1);
    cr_assert_eq(num(o, "overlaps"), 2);
    cr_assert_eq(num(o, "overlap_conflicts"), 4);
    cr_assert_eq(num(o, "out_of_order"), 3);
    cr_assert_eq(num(o, "gaps"), 1);
    cr_assert_eq(num(o, "gap_bytes"), 7);
    const json_t *g = json_array_get(json_object_get(o, "gap_ranges"), 0);
    cr_assert_eq(num(g, "offset"), 5);
    cr_assert_eq(num(g, "length"), 7);
    cr_assert_eq(num(o, "server_gaps"), 0);
    cr_assert_eq(num(o, "payload_len"), 11);
    cr_assert_eq(num(o, "server_payload_len"), 11);
    cr_assert_str_eq(str(o, "service"), "http");
    const json_t *h = json_object_get(o, "http");
    cr_assert_str_eq(str(h, "method"), "GET");
    cr_assert_str_eq(str(h, "path"), "/");
    cr_assert_null(json_object_get(h, "host"), "empty strings are left out");
    cr_assert_null(json_object_get(o, "tls"));
    cr_assert_null(json_object_get(o, "dns"));
    cr_assert(!flag(o, "truncated"));
    cr_assert_eq(json_array_size(json_object_get(o, "truncation")), 0);
    cr_assert_null(json_object_get(o, "cut_bytes"));
    /* base64 of the 11 bytes 47 45 54 20 2f 09 78 22 5c 01 ff, worked out by hand (and by Python) */
    cr_assert_str_eq(str(o, "payload"), "R0VUIC8JeCJcAf8=");
    cr_assert_str_eq(str(o, "readable"), "GET /\tx\"\\..", "tab kept, quote and backslash kept, others '.'");
    cr_assert_str_eq(str(o, "server_payload"), "U1NILTIuMC14DQo=");
    cr_assert_str_eq(str(o, "server_readable"), "SSH-2.0-x\r\n");
    cr_assert_eq(json_object_size(o), 38, "no member more or less than listed above");
    json_decref(o);
}

Test(record, truncation_reasons_icmp_v6_and_unknown_names)
{
    struct flow f = { .family = 6, .proto = IPPROTO_ICMPV6, .client = 1, .icmp_type = 128, .icmp_code = 0,
                      .first = { .sec = 100, .nsec = 0 }, .last = { .sec = 99, .nsec = 0 } }; /* time goes back */
    f.addr[0][0] = 0x20;
    f.addr[0][1] = 0x01;
    f.addr[0][2] = 0x0d;
    f.addr[0][3] = 0xb8;
    f.addr[0][15] = 0x10;     /* 2001:db8::10, endpoint 0: the server here */
    memcpy(f.addr[1], f.addr[0], 16);
    f.addr[1][15] = 0x02;     /* 2001:db8::2, the client */
    f.dir[0].clipped = true;
    f.dir[1].packets = 1;
    struct stream client = { .bytes = (uint8_t *)"abcdefgh", .len = 8, .cut_bytes = 3 };
    struct stream server = { .bytes = (uint8_t *)"", .len = 0, .cut_bytes = 2 };
    struct recognised seen = nothing_recognised();
    struct analyze_source src = { .s3path = "/tmp/\xff\xfe.pcap", .sensor = NULL };
    struct record_input in = { .flow = &f, .started_by = STARTED_BY_UNKNOWN, .client = &client, .server = &server,
                               .seen = &seen, .src = &src, .pcap_truncated = true, .max_record_payload = 5 };
    json_t *o = write_and_parse(&in);

    cr_assert_str_eq(str(o, "proto"), "icmpv6");
    cr_assert_str_eq(str(o, "src_addr"), "2001:db8::2");
    cr_assert_eq(num(o, "src_port"), 0);
    cr_assert_str_eq(str(o, "dst_addr"), "2001:db8::10");
    cr_assert_eq(num(json_object_get(o, "icmp"), "type"), 128);
    cr_assert_eq(num(json_object_get(o, "icmp"), "code"), 0);
    cr_assert_null(json_object_get(o, "tcp"));
    cr_assert(!flag(o, "handshake"));
    cr_assert_null(json_object_get(o, "started_by"), "no --local: no started_by");
    cr_assert(json_is_null(json_object_get(o, "sensor")));
    cr_assert_str_eq(str(o, "s3path"), "/tmp/...pcap", "not UTF-8: printable ASCII");
    cr_assert_float_eq(json_real_value(json_object_get(o, "duration")), 0.0, 0, "backwards is 0");
    cr_assert(flag(o, "truncated"));
    const json_t *why = json_object_get(o, "truncation");
    cr_assert_eq(json_array_size(why), 4);
    cr_assert_str_eq(json_string_value(json_array_get(why, 0)), "pcap");
    cr_assert_str_eq(json_string_value(json_array_get(why, 1)), "snaplen");
    cr_assert_str_eq(json_string_value(json_array_get(why, 2)), "payload_cap");
    cr_assert_str_eq(json_string_value(json_array_get(why, 3)), "record_size");
    cr_assert_eq(num(o, "cut_bytes"), 5);
    cr_assert_eq(num(o, "payload_len"), 8, "the length kept, not the length written");
    cr_assert_str_eq(str(o, "payload"), "YWJjZGU=", "base64 of the first 5 bytes");
    cr_assert_str_eq(str(o, "readable"), "abcde");
    cr_assert_str_eq(str(o, "server_payload"), "");
    json_decref(o);
}

Test(record, fields_read_back_equal_the_line)
{
    struct flow f = tcp_flow();
    struct stream client = { .bytes = (uint8_t *)"\0x", .len = 2 }, server = { .bytes = (uint8_t *)"", .len = 0 };
    struct recognised seen = nothing_recognised();
    seen.service = "dns";
    snprintf(seen.dns_qname, sizeof seen.dns_qname, "example.com");
    seen.dns_qtype = 28;
    struct analyze_source src = { .s3path = NULL, .sensor = "s" };
    struct record_input in = { .flow = &f, .started_by = STARTED_BY_SENSOR, .client = &client, .server = &server,
                               .seen = &seen, .src = &src };
    json_t *line = write_and_parse(&in);
    struct record_buffer buffer = { 0 };
    struct record rec;
    record_prepare(&in, &buffer, &rec);
    json_t *fields = record_fields(&rec);
    cr_assert(fields);
    cr_assert(json_equal(fields, line));
    cr_assert_str_eq(str(fields, "started_by"), "sensor");
    cr_assert(json_is_null(json_object_get(fields, "s3path")));
    cr_assert_str_eq(str(json_object_get(fields, "dns"), "qname"), "example.com");
    cr_assert_eq(num(json_object_get(fields, "dns"), "qtype"), 28);
    cr_assert_str_eq(str(fields, "payload"), "AHg=");
    cr_assert_str_eq(str(fields, "readable"), ".x");
    cr_assert_eq(rec.client_len, 2);
    json_decref(fields);
    json_decref(line);
    record_buffer_free(&buffer);
}

/* Payloads long enough for the vector paths of base64 and readable, every length from 0 to 100 and a 5000-byte one,
 * of every byte value: the base64 decodes back (OpenSSL's decoder) to the payload, and the readable text follows
 * SCHEMA.md's rule byte for byte. */
Test(record, long_payloads_decode_back)
{
    static uint8_t bytes[5000];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 7 + i / 256);
    size_t lengths[102];
    for (size_t i = 0; i <= 100; i++)
        lengths[i] = i;
    lengths[101] = sizeof bytes;
    for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
        size_t n = lengths[l];
        struct flow f = tcp_flow();
        struct stream client = { .bytes = bytes, .len = n }, server = { .bytes = bytes + 1, .len = n ? n - 1 : 0 };
        struct recognised seen = nothing_recognised();
        struct analyze_source src = { 0 };
        struct record_input in = { .flow = &f, .client = &client, .server = &server, .seen = &seen, .src = &src };
        json_t *o = write_and_parse(&in);
        const char *b64 = str(o, "payload");
        cr_assert_eq(strlen(b64), (n + 2) / 3 * 4);
        static unsigned char decoded[5004];
        int k = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)strlen(b64));
        cr_assert_eq(k, (int)((n + 2) / 3 * 3), "length %zu", n);
        cr_assert_eq(memcmp(decoded, bytes, n), 0, "length %zu: base64 does not decode back", n);
        const json_t *readable = json_object_get(o, "readable");
        cr_assert_eq(json_string_length(readable), n);
        const char *text = json_string_value(readable);
        for (size_t i = 0; i < n; i++) {
            uint8_t c = bytes[i];
            char want = (c >= 0x20 && c <= 0x7e) || (c >= '\t' && c <= '\r') ? (char)c : '.';
            cr_assert_eq(text[i], want, "length %zu, byte %zu (0x%02x)", n, i, c);
        }
        json_decref(o);
    }
}
