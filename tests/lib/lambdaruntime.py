"""The Lambda Runtime API, enough of it for the analyzer's bootstrap: /next hands out queued (request id, event)
pairs, then holds the caller; each /response or /error lands in `results` as (request id, "response" or "error",
the JSON body, the Lambda-Runtime-Function-Error-Type header). On loopback, a free port; close() stops it."""
import http.server
import json
import queue
import threading
import time

NEXT = "/2018-06-01/runtime/invocation/next"


class RuntimeApi:
    def __init__(self, events=()):
        self.events = queue.Queue()
        for e in events:
            self.events.put(e)
        self.results = queue.Queue()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != NEXT:
                    self.send_error(404)
                    return
                try:
                    request_id, body = api.events.get(timeout=60)
                except queue.Empty:
                    self.send_error(500)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:analyzer")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = self.path.split("/")  # /2018-06-01/runtime/invocation/ID/response|error
                if len(parts) != 6 or parts[5] not in ("response", "error"):
                    self.send_error(404)
                    return
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                self.wfile.flush()
                api.results.put((parts[4], parts[5], json.loads(body),
                                 self.headers.get("Lambda-Runtime-Function-Error-Type")))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answers(self, count, timeout=60):
        """The next count results, by request id: {id: (kind, body, error type)}."""
        out = {}
        while len(out) < count:
            rid, kind, body, etype = self.results.get(timeout=timeout)
            out[rid] = (kind, body, etype)
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
