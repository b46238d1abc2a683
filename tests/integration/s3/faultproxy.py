#!/usr/bin/env python3
"""faultproxy.py - an HTTP proxy between a storage driver and an S3 server
that injects faults on a seeded schedule, so the driver's retries, resumes
and error handling can be tested reproducibly.

    faultproxy.py --port P --upstream 127.0.0.1:U --seed N --rate 0.3 \
                  --faults 500,503,reset,stall,truncate [--stall 3] [--ready-file F]

(--port 0: the kernel picks the port; --ready-file receives it once the
proxy listens.)

Per request, with probability --rate, one of the faults is picked:
  500, 503   answer with an S3 <Error> body, without forwarding
  501        answer 501 NotImplemented, as a server without the operation
  reset      close the connection without answering (RST)
  stall      forward, then send the headers and half the body, and stall
             for --stall seconds (longer than the driver's timeout) before
             closing
  truncate   forward, then send the headers (full Content-Length) and only
             half the body, and close
  html404    answer 404 with an HTML page and no S3 <Error> body, as a
             proxy, an ingress or a wrong endpoint does (never forwarded)
  nosuchkey  answer a GET or HEAD with S3's 404 NoSuchKey (the object
             looks absent to reads); other requests are forwarded
  corrupt    flip one byte of a request body (PUT or POST with a body) on the
             way to the server, after the client signed and checksummed it
--fault-path REGEX limits faults to requests whose path (with the query)
matches; the others are forwarded untouched and do not advance the
schedule.  The schedule depends only on the seed and the order of the
requests it applies to.
"""
import argparse
import re
import http.client
import os
import random
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


class Schedule:
    def __init__(self, seed, rate, faults):
        self.rng = random.Random(seed)
        self.rate = rate
        self.faults = faults
        self.lock = threading.Lock()
        self.count = 0

    def next(self):
        with self.lock:
            self.count += 1
            roll = self.rng.random()
            pick = self.rng.choice(self.faults) if self.faults else None
            return pick if roll < self.rate else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("faultproxy: " + (fmt % args) + "\n")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _forward(self, body):
        conn = http.client.HTTPConnection(*self.server.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read() if self.command != "HEAD" else b""
        hdrs = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
        conn.close()
        if self.command != "HEAD" and not any(k.lower() == "content-length" for k, _ in hdrs):
            # The upstream sent chunks (Azurite does): the body is whole
            # here, so say its length, or the client waits for a close.
            hdrs.append(("Content-Length", str(len(data))))
        return resp.status, resp.reason, hdrs, data

    def _send(self, status, reason, hdrs, data, cut=None, stall=0):
        self.send_response_only(status, reason)
        for k, v in hdrs:
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut is None:
            self.wfile.write(data)
            return
        self.wfile.write(data[:cut])
        self.wfile.flush()
        if stall:
            time.sleep(stall)
        self.close_connection = True
        self._reset()

    def _reset(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _error(self, status, code):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                "<Message>injected by faultproxy</Message></Error>" % code).encode()
        self._send(status, code, [("Content-Type", "application/xml"),
                                  ("Content-Length", str(len(body)))], body)

    def _html404(self):
        body = (b"<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1>"
                b"</center><hr><center>nginx</center></body></html>\n")
        self._send(404, "Not Found", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))], body)

    def _wrong_region(self):
        """--bucket-region R: a request signed for another region gets what
        S3 answers then (301 PermanentRedirect or 400
        AuthorizationHeaderMalformed, naming R)."""
        want = self.server.bucket_region
        m = re.search(r"Credential=[^/]+/[0-9]+/([^/]+)/", self.headers.get("Authorization", ""))
        if not want or not m or m.group(1) == want:
            return False
        self.log_message("region %s refused (bucket in %s) on %s %s", m.group(1), want, self.command, self.path)
        if self.server.region_status == 301:
            code, status = "PermanentRedirect", 301
            msg = "The bucket you are attempting to access must be addressed using the specified endpoint."
        else:
            code, status = "AuthorizationHeaderMalformed", 400
            msg = "the region '%s' is wrong; expecting '%s'" % (m.group(1), want)
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
                "<Region>%s</Region></Error>" % (code, msg, want)).encode()
        self._send(status, code, [("Content-Type", "application/xml"), ("x-amz-bucket-region", want),
                                  ("Content-Length", str(len(body)))], body)
        return True

    def _handle(self):
        body = self._body()
        if self._wrong_region():
            return None
        pat = self.server.fault_path
        fault = self.server.schedule.next() if not pat or pat.search(self.path) else None
        if fault:
            self.log_message("inject %s on %s %s", fault, self.command, self.path)
        if fault == "500":
            return self._error(500, "InternalError")
        if fault == "503":
            return self._error(503, "SlowDown")
        if fault == "501":
            return self._error(501, "NotImplemented")
        if fault == "html404":
            return self._html404()
        if fault == "nosuchkey" and self.command in ("GET", "HEAD"):
            return self._error(404, "NoSuchKey")
        if fault == "reset":
            self.close_connection = True
            return self._reset()
        if fault == "corrupt" and body:
            damaged = bytearray(body)
            damaged[len(damaged) // 2] ^= 0x01
            body = bytes(damaged)
        status, reason, hdrs, data = self._forward(body)
        if fault in ("truncate", "stall") and len(data) >= 2:
            return self._send(status, reason, hdrs, data, cut=len(data) // 2,
                              stall=self.server.stall if fault == "stall" else 0)
        self._send(status, reason, hdrs, data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--faults", default="500,503,reset,stall,truncate")
    ap.add_argument("--stall", type=float, default=3.0)
    ap.add_argument("--bucket-region", default="", help="refuse requests signed for another region")
    ap.add_argument("--region-status", type=int, default=400, choices=(301, 400))
    ap.add_argument("--fault-path", default="", help="only requests whose path matches this regex")
    ap.add_argument("--ready-file", help="written with the port once the proxy listens")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.upstream = (host, int(port))
    srv.schedule = Schedule(a.seed, a.rate, [f for f in a.faults.split(",") if f])
    srv.stall = a.stall
    srv.verbose = a.verbose
    srv.bucket_region = a.bucket_region
    srv.region_status = a.region_status
    srv.fault_path = re.compile(a.fault_path) if a.fault_path else None
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(a.ready_file + ".tmp", a.ready_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
