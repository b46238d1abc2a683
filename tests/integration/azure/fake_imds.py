#!/usr/bin/env python3
"""fake_imds.py - a stand-in for the Azure Instance Metadata Service's
managed identity token endpoint, for the azure driver's tests:

    fake_imds.py --port P --log FILE [--lifetime S] [--client-id ID]
                 [--fail-first N --fail-status 500]

GET /metadata/identity/oauth2/token?api-version=...&resource=...[&client_id=...]
with the header "Metadata: true" answers as IMDS does: JSON with
access_token, expires_in, expires_on, resource, token_type.  Without the
header it answers 400, as IMDS does; for another resource or client id,
400 invalid_request "Identity not found".

The token is a JWT of the shape Azurite's --oauth basic accepts (it checks
the format, nbf/iat/exp, the issuer prefix and the audience, not the
signature): issuer https://sts.windows.net/<tenant>/, audience
https://storage.azure.com, valid for --lifetime seconds.  Each token has a
serial number (claim "n") so tests can tell them apart.  Every request is
logged to --log, one line: "token N (LEN bytes)" or "refused STATUS
REASON".
"""
import argparse
import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESOURCE = "https://storage.azure.com/"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _log(self, line):
        with self.server.lock:
            with open(self.server.log, "a") as f:
                f.write(line + "\n")

    def _json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, status, error, desc):
        self._log("refused %d %s" % (status, desc))
        self._json(status, {"error": error, "error_description": desc})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path != "/metadata/identity/oauth2/token":
            return self._refuse(404, "not_found", "no such path " + url.path)
        if self.headers.get("Metadata") != "true":
            return self._refuse(400, "invalid_request", "Required metadata header not specified")
        if not q.get("api-version"):
            return self._refuse(400, "invalid_request", "Required query variable 'api-version' is missing")
        if q.get("resource") != RESOURCE or q.get("client_id", "") != self.server.client_id:
            return self._refuse(400, "invalid_request", "Identity not found")
        with self.server.lock:
            self.server.count += 1
            n = self.server.count
        if n <= self.server.fail_first:
            return self._refuse(self.server.fail_status, "server_error", "injected failure %d" % n)
        now = int(time.time())
        life = self.server.lifetime
        # Real tokens carry group ids and more: 2 to 3 KiB, as here.
        claims = {"aud": "https://storage.azure.com", "iss": "https://sts.windows.net/%s/" % self.server.tenant,
                  "iat": now - 60, "nbf": now - 60, "exp": now + life, "oid": "fake-identity", "n": n,
                  "groups": ["%08x-0000-4000-8000-%012x" % (n, i) for i in range(40)]}
        token = ".".join([b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()),
                          b64url(json.dumps(claims).encode()), b64url(b"unsigned")])
        self._log("token %d (%d bytes)" % (n, len(token)))
        self._json(200, {"access_token": token, "expires_in": str(life), "expires_on": str(now + life),
                         "ext_expires_in": str(life), "not_before": str(now - 60), "resource": RESOURCE,
                         "token_type": "Bearer", "client_id": self.server.client_id or "fake-system-identity"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lifetime", type=int, default=3600)
    ap.add_argument("--client-id", default="")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=500)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.log = a.log
    srv.lock = threading.Lock()
    srv.count = 0
    srv.lifetime = a.lifetime
    srv.client_id = a.client_id
    srv.fail_first = a.fail_first
    srv.fail_status = a.fail_status
    srv.tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    srv.serve_forever()


if __name__ == "__main__":
    main()
