/* The analyzer's protocol recognisers and the Lambda event parser on known inputs and on hostile ones. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../analyzer/lambda_event.h"
#include "../../../analyzer/recognise.h"
#include "../../../analyzer/text.h"

#define B(s) (const uint8_t *)(s), sizeof(s) - 1

Test(analyzer_protocols, http_request_fields)
{
    struct recognised r;
    recognise(B("POST /login.php?x=1 HTTP/1.1\r\nhost: a.example\r\nUSER-AGENT:  curl/8\r\n\r\nbody"), NULL, 0, false,
              &r);
    cr_assert_str_eq(r.service, "http");
    cr_assert_str_eq(r.http_method, "POST");
    cr_assert_str_eq(r.http_path, "/login.php?x=1");
    cr_assert_str_eq(r.http_version, "1.1");
    cr_assert_str_eq(r.http_host, "a.example");
    cr_assert_str_eq(r.http_user_agent, "curl/8");
    recognise(B("GET / HTTX/1.1\r\n"), NULL, 0, false, &r);
    cr_assert_str_eq(r.service, "unknown");
    recognise(B("get / HTTP/1.1\r\n"), NULL, 0, false, &r);
    cr_assert_str_eq(r.service, "unknown");
}

Test(analyzer_protocols, ssh_banners_sanitised)
{
    struct recognised r;
    recognise(B("SSH-2.0-evil\x01\xff\r\nrest"), B("SSH-2.0-OpenSSH_9.2p1\r\n"), false, &r);
    cr_assert_str_eq(r.service, "ssh");
    cr_assert_str_eq(r.ssh_banner, "SSH-2.0-evil..");
    cr_assert_str_eq(r.ssh_server_banner, "SSH-2.0-OpenSSH_9.2p1");
    /* a banner that never ends is cut at 255 characters */
    char longb[600];
    memset(longb, 'A', sizeof longb);
    memcpy(longb, "SSH-", 4);
    recognise((const uint8_t *)longb, sizeof longb, NULL, 0, false, &r);
    cr_assert_eq(strlen(r.ssh_banner), 255);
}

Test(analyzer_protocols, redis_rdp_dns_smb)
{
    struct recognised r;
    recognise(B("*3\r\n$6\r\nconfig\r\n$3\r\nset\r\n"), NULL, 0, false, &r);
    cr_assert_str_eq(r.service, "redis");
    cr_assert_str_eq(r.redis_command, "CONFIG");
    recognise(B("PING\r\n"), NULL, 0, false, &r);
    cr_assert_str_eq(r.redis_command, "PING");
    recognise(B("PINGU\r\n"), NULL, 0, false, &r);
    cr_assert_str_eq(r.service, "unknown");
    recognise(B("\x03\x00\x00\x2a\x25\xe0\x00\x00\x00\x00\x00" "Cookie: mstshash=hello\r\n\x01\x00\x08\x00\x03\x00\x00\x00"),
              NULL, 0, false, &r);
    cr_assert_str_eq(r.service, "rdp");
    cr_assert_str_eq(r.rdp_cookie, "hello");
    recognise(B("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07" "example\x03org\x00\x00\x1c\x00\x01"),
              NULL, 0, true, &r);
    cr_assert_str_eq(r.service, "dns");
    cr_assert_str_eq(r.dns_qname, "www.example.org");
    cr_assert_eq(r.dns_qtype, 28);
    /* a compression pointer in a query is refused */
    recognise(B("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"), NULL, 0, true, &r);
    cr_assert_str_eq(r.service, "unknown");
    recognise(B("\x00\x00\x00\x45\xffSMBr\x00\x00\x00"), NULL, 0, false, &r);
    cr_assert_str_eq(r.service, "smb");
}

Test(analyzer_protocols, tls_truncated_hello_is_not_tls)
{
    struct recognised r;
    recognise(B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), NULL, 0, false, &r);
    cr_assert_str_eq(r.service, "unknown");
    cr_assert_str_eq(r.tls_ja3, "");
}

Test(analyzer_protocols, text_renderings)
{
    size_t n;
    char *b = text_base64((const uint8_t *)"lurker!", 7, &n);
    cr_assert_str_eq(b, "bHVya2VyIQ==");
    cr_assert_eq(n, 12);
    free(b);
    char *t = text_readable((const uint8_t *)"a\tb\r\n\x00\x7f\xc3\xa9~", 10);
    cr_assert_str_eq(t, "a\tb\r\n....~");
    free(t);
}

Test(analyzer_protocols, lambda_event_shapes)
{
    static const char sns[] =
        "{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"Message\":\"{\\\"Records\\\":[{\\\"eventSource\\\":"
        "\\\"aws:s3\\\",\\\"eventName\\\":\\\"ObjectCreated:Put\\\",\\\"s3\\\":{\\\"bucket\\\":{\\\"name\\\":\\\"b\\\"},"
        "\\\"object\\\":{\\\"key\\\":\\\"pcap/a+b%2Bc%3A.pcap\\\"}}}]}\"}},"
        "{\"EventSource\":\"aws:sns\",\"Sns\":{\"Message\":\"{\\\"Event\\\":\\\"s3:TestEvent\\\"}\"}},"
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
        "\"object\":{\"key\":\"gone\"}}}]}";
    struct lambda_objects o;
    char err[128];
    cr_assert_eq(lambda_event_objects(sns, strlen(sns), &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.n, 1);
    cr_assert_str_eq(o.items[0].bucket, "b");
    cr_assert_str_eq(o.items[0].key, "pcap/a b+c:.pcap");
    cr_assert_eq(o.skipped, 2);
    lambda_objects_free(&o);

    cr_assert_eq(lambda_event_objects("[1,2", 4, &o, err, sizeof err), -1);
    cr_assert_eq(lambda_event_objects("{\"x\":1}", 7, &o, err, sizeof err), -1);
    char out[8];
    cr_assert_eq(s3_key_decode("a%00b", out, sizeof out), -1);
    cr_assert_eq(s3_key_decode("a%zz", out, sizeof out), -1);
    cr_assert_eq(s3_key_decode("toolongforit", out, sizeof out), -1);
}
