/* S3 client pure parts: error classification, XML reading, credentials file/IMDS parsing and refresh timing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_creds.h"
#include "s3.h"

Test(s3, classification)
{
    int refresh;
    cr_expect_eq(s3_classify(200, "", &refresh), S3_OK);
    cr_expect_eq(s3_classify(0, "NetworkError", &refresh), S3_TRANSIENT);
    cr_expect_eq(s3_classify(500, "InternalError", &refresh), S3_TRANSIENT);
    cr_expect_eq(s3_classify(503, "SlowDown", &refresh), S3_TRANSIENT);
    cr_expect_eq(s3_classify(403, "RequestTimeTooSkewed", &refresh), S3_TRANSIENT);
    cr_expect_eq(s3_classify(400, "ExpiredToken", &refresh), S3_TRANSIENT);
    cr_expect_eq(refresh, 1);
    cr_expect_eq(s3_classify(403, "SignatureDoesNotMatch", &refresh), S3_PERMANENT);
    cr_expect_eq(refresh, 0);
    cr_expect_eq(s3_classify(403, "AccessDenied", &refresh), S3_PERMANENT);
    cr_expect_eq(s3_classify(404, "NoSuchBucket", &refresh), S3_PERMANENT);
    cr_expect_eq(s3_classify(400, "BadDigest", &refresh), S3_PERMANENT);
}

Test(s3, xml_tags)
{
    const char *xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>a &lt;b&gt; &amp; &#65;&#x42;"
                      "</Message><Key>x</Key></Error>";
    char out[64];
    cr_assert_eq(s3_xml_tag(xml, strlen(xml), "Code", out, sizeof out), 0);
    cr_expect_str_eq(out, "NoSuchKey");
    cr_assert_eq(s3_xml_tag(xml, strlen(xml), "Message", out, sizeof out), 0);
    cr_expect_str_eq(out, "a <b> & AB");
    cr_expect_eq(s3_xml_tag(xml, strlen(xml), "Missing", out, sizeof out), -1);
    cr_expect_eq(s3_xml_tag("<Code>unterminated", 18, "Code", out, sizeof out), -1);
    cr_assert_eq(s3_xml_tag(xml, strlen(xml), "Message", out, 4), 0, "truncated to the buffer");
    cr_expect_str_eq(out, "a <");
}

/* The answer body is not NUL-terminated: a character reference is read within it (ASan: no read past the end). */
Test(s3, xml_character_references_stay_inside_the_answer)
{
    const char text[] = "<Key>&#65;&#x4a;&#;&#x;&#6x;&##;&#99999999999;</Key>";
    char *body = malloc(sizeof text - 1);
    cr_assert(body);
    memcpy(body, text, sizeof text - 1);
    char out[64];
    cr_assert_eq(s3_xml_tag(body, sizeof text - 1, "Key", out, sizeof out), 0);
    cr_expect_str_eq(out, "AJ&#;???&#99999999999;"); /* too short or too long to be a reference: kept */
    free(body);
}

Test(s3, shared_credentials_file)
{
    const char *ini = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key=sdefault\n\n"
                      "# comment\n[profile other]\n  aws_access_key_id=AKIAOTHER  \naws_secret_access_key = s/o+x=\n"
                      "aws_session_token = tok\n[broken]\naws_access_key_id=only\n";
    struct aws_credentials c;
    cr_assert_eq(aws_creds_parse_shared_file(ini, strlen(ini), "default", &c), 0);
    cr_expect_str_eq(c.access_key_id, "AKIADEFAULT");
    cr_expect_str_eq(c.secret_access_key, "sdefault");
    cr_expect_str_eq(c.session_token, "");
    cr_assert_eq(aws_creds_parse_shared_file(ini, strlen(ini), "other", &c), 0);
    cr_expect_str_eq(c.access_key_id, "AKIAOTHER");
    cr_expect_str_eq(c.secret_access_key, "s/o+x=");
    cr_expect_str_eq(c.session_token, "tok");
    cr_expect_eq(aws_creds_parse_shared_file(ini, strlen(ini), "broken", &c), -1);
    cr_expect_eq(aws_creds_parse_shared_file(ini, strlen(ini), "absent", &c), -1);
}

Test(s3, imds_document_and_refresh_time)
{
    const char *doc = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAX\",\"SecretAccessKey\":\"sec\","
                      "\"Token\":\"tok\",\"Expiration\":\"2026-11-25T20:00:00Z\"}";
    struct aws_credentials c;
    char err[128];
    cr_assert_eq(aws_creds_parse_imds_json(doc, strlen(doc), &c, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.access_key_id, "ASIAX");
    cr_expect_str_eq(c.session_token, "tok");
    cr_expect_eq(c.expiration, aws_creds_parse_iso8601("2026-11-25T20:00:00Z"));
    cr_expect_eq(aws_creds_parse_iso8601("1970-01-01T00:01:00Z"), 60);
    cr_expect_eq(aws_creds_parse_iso8601("garbage"), -1);
    cr_expect_eq(aws_creds_parse_imds_json("{\"AccessKeyId\":\"A\"}", 18, &c, err, sizeof err), -1);
    cr_expect_eq(aws_creds_parse_imds_json("not json", 8, &c, err, sizeof err), -1);
    /* six-hour credentials: five minutes early; a short lifetime: halfway; never after expiry */
    cr_expect_eq(aws_creds_refresh_at(1000, 1000 + 21600), 1000 + 21600 - 300);
    cr_expect_eq(aws_creds_refresh_at(1000, 1010), 1005);
    cr_expect_eq(aws_creds_refresh_at(1000, 0), 0, "no expiry: never refresh");
}

Test(s3, credential_chain_order_and_failure_hold)
{
    char path[] = "/tmp/lurker-creds-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *ini = "[p1]\naws_access_key_id=AKIAFILE\naws_secret_access_key=filesecret\n";
    cr_assert_eq(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);

    struct aws_credentials c;
    char err[512];
    struct aws_creds_provider *p = aws_creds_new("p1");
    cr_assert_eq(aws_creds_get(p, &c, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.access_key_id, "AKIAENV", "the environment comes first");
    cr_expect_str_eq(c.session_token, "envtoken");
    cr_expect_str_eq(c.source, "environment");
    aws_creds_free(p);

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    p = aws_creds_new("p1");
    cr_assert_eq(aws_creds_get(p, &c, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.access_key_id, "AKIAFILE", "then the shared file's profile");
    cr_expect_str_eq(c.source, "shared-file profile=p1");
    aws_creds_free(p);

    setenv("AWS_PROFILE", "absent", 1);
    p = aws_creds_new("");
    cr_expect_eq(aws_creds_get(p, &c, err, sizeof err), -1, "AWS_PROFILE names a profile the file lacks");
    cr_expect(strstr(err, "[absent]") && strstr(err, "AWS_EC2_METADATA_DISABLED"), "%s", err);
    /* the provider remembers the failure for a while rather than asking every source again per request */
    setenv("AWS_ACCESS_KEY_ID", "AKIALATER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "later", 1);
    cr_expect_eq(aws_creds_get(p, &c, err, sizeof err), -1);
    aws_creds_free(p);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unlink(path);
}
