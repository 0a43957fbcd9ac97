"""An upstream registry for the pull-through tests: Debian's docker-registry (the CNCF
distribution registry) on an unused loopback port with filesystem storage under the test's
directory and its access log kept, so a test can count the requests that reached it. Auth:
none, htpasswd (Basic; bcrypt lines from the C library's crypt), or token, with a token
server run here on a thread: RS256 JWTs carrying the signing certificate (x5c), signed with
the openssl command, which the registry checks against that certificate."""

import base64
import crypt
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time

from shoal_harness import HOST, unused_port, wait_until, http_request

DOCKER_REGISTRY = shutil.which("docker-registry")
OPENSSL = shutil.which("openssl")
_REQUEST = re.compile(r'"(GET|HEAD) (/v2/[^ ]*) HTTP/[0-9.]+" (\d+)')


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """GET /token?service=..&scope=..: a JWT granting the scopes asked for, to a client
    with the right Basic credentials (when `credentials` is set). Counts what it issued."""

    def __init__(self, directory, service, credentials=None):
        self.dir, self.service, self.credentials = directory, service, credentials
        self.issuer = "shoal-test-issuer"
        self.key = os.path.join(directory, "token.key")
        self.cert = os.path.join(directory, "token.crt")
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=shoal-test-token", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        der = subprocess.run([OPENSSL, "x509", "-in", self.cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.issued = 0
        self.refused = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server._answer(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.realm = f"http://{HOST}:{self.port}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, handler):
        from urllib.parse import parse_qs, urlparse
        query = parse_qs(urlparse(handler.path).query)
        if self.credentials:
            want = "Basic " + base64.b64encode(self.credentials.encode()).decode()
            if handler.headers.get("Authorization") != want:
                self.refused += 1
                handler.send_response(401)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")[0], ":".join(scope.split(":")[1:-1]), scope.split(":")[-1]
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        body = json.dumps({"token": self.sign(access), "expires_in": 300}).encode()
        self.issued += 1
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def sign(self, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": "puller", "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(now) + str(self.issued), "access": access}
        signing_input = (_b64url(json.dumps(header).encode()) + "." +
                         _b64url(json.dumps(claims).encode()))
        signature = subprocess.run([OPENSSL, "dgst", "-sha256", "-sign", self.key],
                                   input=signing_input.encode(), check=True,
                                   capture_output=True).stdout
        return signing_input + "." + _b64url(signature)


class UpstreamRegistry:
    """docker-registry serve CONFIG; auth: None, ("htpasswd", "user:password") or
    ("token", TokenServer)."""

    def __init__(self, directory, auth=None):
        self.dir = directory
        self.root = os.path.join(directory, "storage")
        os.makedirs(self.root, exist_ok=True)
        self.port = unused_port()
        self.url = f"http://{HOST}:{self.port}"
        config = [
            "version: 0.1",
            "log: {level: info, accesslog: {disabled: false}}",
            f"storage: {{filesystem: {{rootdirectory: {self.root}}}, delete: {{enabled: true}}}}",
            f"http: {{addr: '{HOST}:{self.port}'}}",
        ]
        if auth and auth[0] == "htpasswd":
            user, password = auth[1].split(":", 1)
            htpasswd = os.path.join(directory, "htpasswd")
            with open(htpasswd, "w") as f:
                f.write(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
            config.append(f"auth: {{htpasswd: {{realm: basic-realm, path: {htpasswd}}}}}")
        elif auth and auth[0] == "token":
            t = auth[1]
            config.append(f"auth: {{token: {{realm: '{t.realm}', service: {t.service}, "
                          f"issuer: {t.issuer}, rootcertbundle: {t.cert}}}}}")
        self.config = os.path.join(directory, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(config) + "\n")
        self.log_path = os.path.join(directory, "registry.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([DOCKER_REGISTRY, "serve", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def answers():
            try:
                return http_request(self.port, "GET", "/v2/", timeout=2).status in (200, 401)
            except OSError:
                return False
        if not wait_until(answers, timeout=15):
            self.stop()
            raise AssertionError(f"docker-registry did not start:\n{self.log_text()[-3000:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def requests(self, prefix="/v2/"):
        """(method, path, status) of every request the access log holds whose path starts
        with `prefix` (the readiness checks of /v2/ itself excluded)."""
        return [m.groups() for m in _REQUEST.finditer(self.log_text())
                if m.group(2).startswith(prefix) and m.group(2) != "/v2/"]

    def blob_data(self, digest):
        hex_ = digest.split(":")[1]
        return os.path.join(self.root, "docker", "registry", "v2", "blobs", "sha256", hex_[:2],
                            hex_, "data")
