"""common/s3.c and common/aws_creds.c against endpoints that misbehave on purpose (HTTP stand-ins on loopback):
a listing that keeps answering IsTruncated with the same continuation token ends with a clear error instead of
looping for ever, and an IMDS token that is not header-safe is never put into a header (nor a role name that is
not IAM's into a URL)."""
import http.server
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402
from motoserver import free_port  # noqa: E402

S3CHECK = os.path.join(lt.BUILD, "helpers", "s3_client_check")

STUCK_LISTING = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                 b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>'
                 b'<Contents><Key>same.pcap</Key><Size>1</Size></Contents>'
                 b'<IsTruncated>true</IsTruncated><NextContinuationToken>again</NextContinuationToken>'
                 b'</ListBucketResult>')


class Server:
    """A ThreadingHTTPServer on 127.0.0.1 with HANDLER, stopped on exit."""

    def __init__(self, handler):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def env_with(**kw):
    env = dict(os.environ)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(k, None)
    env.update(AWS_REGION="us-east-1", AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent")
    env.update(kw)
    return env


class HostileEndpoints(unittest.TestCase):
    def test_a_listing_that_repeats_its_token_ends_with_an_error(self):
        pages = []

        class Stuck(lt.QuietHandler):
            def do_GET(self):
                pages.append(self.path)
                self.reply(200, STUCK_LISTING, "application/xml")

        with Server(Stuck) as s:
            env = env_with(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret")
            r = subprocess.run([S3CHECK, s.endpoint, "b", "list", ""], env=env, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"code=ListNotProgressing", r.stderr)
        self.assertIn(b"same continuation token twice", r.stderr)
        self.assertEqual(len(pages), 2, "the first page, then the repeat; no third request")

    def test_an_imds_token_that_is_not_header_safe_is_never_sent(self):
        seen = {"tokens": 0, "gets": []}

        class Imds(lt.QuietHandler):
            def do_PUT(self):
                seen["tokens"] += 1
                self.reply(200, b"tok\x01en\x7fX-Injected: 1")

            def do_GET(self):
                seen["gets"].append(self.path)
                self.reply(200, b"role")

        with Server(Imds) as s:
            env = env_with(AWS_EC2_METADATA_SERVICE_ENDPOINT=s.endpoint)
            env.pop("AWS_EC2_METADATA_DISABLED", None)
            r = subprocess.run([S3CHECK, "http://127.0.0.1:9", "b", "get", "k", "10"], env=env,
                               capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertGreaterEqual(seen["tokens"], 1, "the token was asked for")
        self.assertEqual(seen["gets"], [], "a request carrying the token was made")
        self.assertIn(b"not allowed in a header", r.stderr)


if __name__ == "__main__":
    unittest.main()
