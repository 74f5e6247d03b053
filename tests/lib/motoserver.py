"""moto's S3/IAM/STS server on loopback with AWS Signature V4 checking ON, for integration tests.

    from motoserver import MotoServer
    with MotoServer() as moto:                  # starts `moto_server` on 127.0.0.1:<free port>
        moto.create_bucket("lurker-test")
        s3 = moto.client("s3")                  # boto3 client signed with the test user's key
        moto.endpoint                           # "http://127.0.0.1:PORT" (use path-style addressing)
        moto.access_key, moto.secret_key        # an IAM user's key with an allow-all inline policy
        moto.region                             # "us-east-1"
        moto.env()                              # dict: AWS_* variables for a child process using that key
        moto.assume_role()                      # dict: temporary AccessKeyId/SecretAccessKey/SessionToken/Expiration
        moto.new_access_key()                   # (id, secret): a second key of the same user
        moto.create_stack(name, template, params)  # a CloudFormation stack's outputs once it is created
    # stopped by PID (SIGTERM, then SIGKILL) on exit

How signature checking is switched on (docs/design.md section 7): moto checks SigV4 only once IAM users exist and
`POST /moto-api/reset-auth` (Content-Type text/plain, body = how many unauthenticated calls to allow first) has been
sent. The setup calls (user, policy, key, role) are made before that with no checking; everything after it, including
this helper's own calls, is signed with the user's key. A wrong secret then fails with SignatureDoesNotMatch.
Known limits of moto 5.2.1's signature check (it re-signs the request as it decoded it): it rejects correctly signed
requests (boto3's too) for keys holding non-ASCII or any of = & ! ( * ' , ; @ $ : +, and ListObjectsV2 requests whose
prefix holds '/'. Use keys of [A-Za-z0-9-._/~ ] in tests, and list without a prefix (list_keys filters locally).
moto keeps its state in memory: a stopped server forgets buckets and users, so to simulate an outage put something
between the client and the server (see TcpGate) rather than restarting moto.
"""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

REGION = "us-east-1"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto_server_argv():
    import shutil
    import sys
    exe = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    return [exe]


class MotoServer:
    def __init__(self, log_path=None):
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.region = REGION
        self.proc = None
        self.log_path = log_path
        self.access_key = self.secret_key = None
        self.user = "lurker-test-user"
        self.role_arn = None

    # -- lifecycle --
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = dict(os.environ, MOTO_PORT=str(self.port))
        self.proc = subprocess.Popen(_moto_server_argv() + ["-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=log, stderr=log, start_new_session=True, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto_server did not start on port %d" % self.port)
                time.sleep(0.2)
        self._setup_auth()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        self.proc = None

    # -- auth --
    def _setup_auth(self):
        import boto3
        boot = dict(aws_access_key_id="AKIAUNCHECKED0000000", aws_secret_access_key="unchecked",
                    region_name=self.region, endpoint_url=self.endpoint)
        iam = boto3.client("iam", **boot)
        allow_all = json.dumps({"Version": "2012-10-17",
                                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        iam.create_user(UserName=self.user)
        iam.put_user_policy(UserName=self.user, PolicyName="allow-all", PolicyDocument=allow_all)
        key = iam.create_access_key(UserName=self.user)["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
        role = iam.create_role(RoleName="lurker-test-role", AssumeRolePolicyDocument=trust)["Role"]
        iam.put_role_policy(RoleName="lurker-test-role", PolicyName="allow-all", PolicyDocument=allow_all)
        self.role_arn = role["Arn"]
        req = urllib.request.Request(self.endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(req, timeout=5).read()

    # -- clients and credentials (all signed; checking is on) --
    def client(self, service="s3", access_key=None, secret_key=None, session_token=None):
        import boto3
        from botocore.config import Config
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint,
                            aws_access_key_id=access_key or self.access_key,
                            aws_secret_access_key=secret_key or self.secret_key,
                            aws_session_token=session_token,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def create_bucket(self, name):
        self.client("s3").create_bucket(Bucket=name)

    def new_access_key(self):
        key = self.client("iam").create_access_key(UserName=self.user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def assume_role(self, session_name="lurker-test"):
        c = self.client("sts").assume_role(RoleArn=self.role_arn, RoleSessionName=session_name)["Credentials"]
        return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                "SessionToken": c["SessionToken"], "Expiration": c["Expiration"]}

    def imds_credentials(self, session_name, expiration=None):
        """What the instance metadata service answers for a role's credentials: a new assume_role session's, expiring
        at expiration (a datetime; default the session's)."""
        c = self.assume_role(session_name)
        return json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": c["AccessKeyId"],
                           "SecretAccessKey": c["SecretAccessKey"], "Token": c["SessionToken"],
                           "Expiration": (expiration or c["Expiration"]).strftime("%Y-%m-%dT%H:%M:%SZ")})

    def env(self, access_key=None, secret_key=None, session_token=None):
        """Environment for a child process (lurker-shipper, aws CLI) that should use this server's credentials.
        IMDS stays disabled and no shared file or profile leaks in from the caller's home."""
        e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        e.update(AWS_ACCESS_KEY_ID=access_key or self.access_key,
                 AWS_SECRET_ACCESS_KEY=secret_key or self.secret_key,
                 AWS_REGION=self.region, AWS_DEFAULT_REGION=self.region,
                 AWS_EC2_METADATA_DISABLED="true",
                 AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent")
        if session_token:
            e["AWS_SESSION_TOKEN"] = session_token
        return e

    def create_stack(self, name, template_path, params):
        """Creates a CloudFormation stack from a template file; its outputs once CREATE_COMPLETE (AssertionError with
        the status and reason otherwise, or after 60 s)."""
        cfn = self.client("cloudformation")
        with open(template_path) as f:
            body = f.read()
        cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
        deadline = time.monotonic() + 60
        while True:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            if not stack["StackStatus"].endswith("IN_PROGRESS") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert stack["StackStatus"] == "CREATE_COMPLETE", (name, stack["StackStatus"], stack.get("StackStatusReason"))
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def list_keys(self, bucket, prefix=""):
        """Every key of the bucket starting with prefix. The prefix is applied here, not sent: moto 5.2.1 rejects a
        signed ListObjectsV2 whose prefix holds '/' (SignatureDoesNotMatch), although boto3 signs it correctly."""
        s3 = self.client("s3")
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].startswith(prefix)]
        return keys


class TcpGate:
    """A loopback TCP forwarder in front of a server that can be closed and reopened on the same port, to play a
    server outage (connections refused) without losing the server's state.

        gate = TcpGate(target_port); gate.open()  -> clients use gate.port
        gate.close()  # new connections refused, open ones cut
        gate.open()   # back
        gate.sent     # bytes clients sent through the gate (first 4 MiB), to inspect requests
    """
    SENT_MAX = 4 * 1024 * 1024

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = free_port()
        self.listener = None
        self.conns = []
        self.lock = threading.Lock()
        self.sent = bytearray()

    def open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def close(self):
        if self.listener:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.conns = []

    def _accept(self, s):
        while True:
            try:
                client, _ = s.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            pair = {"sockets": (client, upstream), "open_pipes": 2}
            with self.lock:
                self.conns += [client, upstream]
            for a, b, record in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, record, pair), daemon=True).start()

    def _pipe(self, a, b, record, pair):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if record:
                    with self.lock:
                        self.sent += data[:max(0, self.SENT_MAX - len(self.sent))]
                b.sendall(data)
        except OSError:
            pass
        finally:
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            # the second direction to finish closes the pair, so a long run does not pile up descriptors
            with self.lock:
                pair["open_pipes"] -= 1
                last = pair["open_pipes"] == 0
                if last:
                    for sock in pair["sockets"]:
                        if sock in self.conns:
                            self.conns.remove(sock)
            if last:
                for sock in pair["sockets"]:
                    try:
                        sock.close()
                    except OSError:
                        pass
