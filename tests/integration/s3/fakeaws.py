#!/usr/bin/env python3
"""fakeaws.py - local stand-ins for the AWS endpoints the s3 driver's
credential chain and bucket features talk to, for the integration tests.

    fakeaws.py --upstream 127.0.0.1:MOTO [--s3 HOST:PORT] [--sts HOST:PORT]
               (PORT 0: the kernel picks one; --ready-file says which)
               [--ecs HOST:PORT] [--imds HOST:PORT] [--blackhole HOST:PORT]
               [--static KEYID:SECRET[:TOKEN]]... [--role-arn ARN]
               [--webid-token-file PATH] [--ecs-path PATH] [--ecs-token TOKEN]

s3     A proxy in front of moto_server that does what moto does not: it
       recomputes the Signature Version 4 of every request with the secret
       of the access key it names, and refuses with 403
       SignatureDoesNotMatch when it differs, 403 InvalidAccessKeyId for a
       key it never issued, 400 ExpiredToken for temporary credentials past
       their life, 403 InvalidToken for a missing or wrong session token,
       403 AccessDenied for x-amz-* headers left unsigned.  It also checks
       x-amz-content-sha256, x-amz-checksum-sha256 and Content-MD5 against
       the body (400 BadDigest / XAmzContentSHA256Mismatch), refuses
       requests more than 15 minutes off its clock (403
       RequestTimeTooSkewed, with its Date), plays Requester Pays buckets
       and SSE-C (the key must come back on GET and HEAD), and can insist
       on a checksum on every body (Object Lock, also for parts, which
       moto does not check).  Everything else is forwarded to moto.
sts    AssumeRoleWithWebIdentity: checks the role and the token (the
       contents of --webid-token-file, read at each call), issues
       credentials.
ecs    The container credentials endpoint: checks the path and the
       Authorization header, issues credentials.
imds   EC2 instance metadata, IMDSv2 only: a GET without a session token
       gets 401 and is counted.
blackhole  Accepts connections and never answers.
closed     A port bound but not listening: connections are refused.

Control, on the s3 port: GET /_fake/state (JSON: what was issued, the
request log), POST /_fake/config (JSON body: skew, lifetime, valid_for,
requester_pays, require_checksum, sts_fail), POST /_fake/expire (every
temporary credential dies now), POST /_fake/clear-log.
"""
import argparse
import base64
import calendar
import email.utils
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (read-only under distcheck)
from faultproxy import Handler as ProxyHandler  # noqa: E402

MAX_SKEW = 900


class State:
    def __init__(self, a):
        self.lock = threading.Lock()
        self.creds = {}          # key id -> dict(secret, token, dead_at, source)
        self.issued = {"sts": 0, "ecs": 0, "imds": 0}
        self.log = []
        self.ssec = {}           # "bucket/key" or "upload:<id>" -> key MD5
        self.mpu_algo = {}       # upload id -> x-amz-checksum-algorithm of CreateMultipartUpload
        self.part_sums = {}      # (upload id, part number) -> x-amz-checksum-sha256 of UploadPart
        self.imds_tokens = set()
        self.imds_v1 = 0
        self.sessions = []       # RoleSessionName values seen by STS
        self.cfg = {"skew": 0, "lifetime": 3600, "valid_for": None, "requester_pays": [],
                    "require_checksum": False, "sts_fail": ""}
        self.role_arn = a.role_arn
        self.webid_token_file = a.webid_token_file
        self.ecs_path = a.ecs_path
        self.ecs_token = a.ecs_token
        for s in a.static:
            parts = s.split(":")
            self.creds[parts[0]] = {"secret": parts[1], "token": parts[2] if len(parts) > 2 else None,
                                    "dead_at": None, "source": "static"}

    def now(self):
        return time.time() + self.cfg["skew"]

    def issue(self, source):
        """New temporary credentials; Expiration says lifetime, the proxy
        lets them live valid_for (default: lifetime)."""
        with self.lock:
            self.issued[source] += 1
            n = self.issued[source]
            kid = "ASIA%s%s%06d" % (source.upper()[:4], secrets.token_hex(4).upper(), n)
            life = self.cfg["lifetime"]
            valid = self.cfg["valid_for"] if self.cfg["valid_for"] is not None else life
            issued_at = time.time()
            c = {"secret": secrets.token_urlsafe(30), "token": "FwoG" + secrets.token_urlsafe(180),
                 "dead_at": issued_at + valid, "source": source}
            self.creds[kid] = c
            exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now() + life))
            return kid, c, exp

    def record(self, entry):
        with self.lock:
            self.log.append(entry)


def send(h, status, body, ctype="application/xml", headers=()):
    data = body.encode() if isinstance(body, str) else body
    h.send_response_only(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(data)))
    h.send_header("Date", email.utils.formatdate(h.server.state.now(), usegmt=True))
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(data)


def s3_error(h, status, code, message, extra=""):
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>%s"
            "<RequestId>fakeaws</RequestId></Error>" % (code, message, extra))
    h.refused = code
    send(h, status, body)


# --- Signature Version 4, recomputed from what arrived ---

def aws_quote(raw, safe):
    return urllib.parse.quote(urllib.parse.unquote_to_bytes(raw), safe=safe)


def canonical_query(q):
    pairs = []
    for part in q.split("&") if q else []:
        name, _, value = part.partition("=")
        pairs.append((aws_quote(name, "-_.~"), aws_quote(value, "-_.~")))
    return "&".join("%s=%s" % p for p in sorted(pairs))


def expected_signature(h, secret, signed, scope, amzdate):
    path, _, query = h.path.partition("?")
    lines = []
    for name in signed:
        values = h.headers.get_all(name) or []
        lines.append("%s:%s" % (name, ",".join(" ".join(v.split()) for v in values)))
    creq = "\n".join([h.command, aws_quote(path, "/-_.~"), canonical_query(query), "\n".join(lines) + "\n",
                      ";".join(signed), h.headers.get("x-amz-content-sha256", "")])
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, "/".join(scope),
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in scope:
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                     r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$")


class S3Handler(ProxyHandler):
    """faultproxy's forwarding (_body, _forward), with checks in front."""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fakeaws s3: " + (fmt % args) + "\n")

    # Each check answers and returns False when the request is refused.
    def _authenticate(self, st, body):
        m = AUTH_RE.match(self.headers.get("Authorization", ""))
        if not m:
            s3_error(self, 403, "AccessDenied", "Anonymous access is not allowed")
            return None
        kid, day, region, service, signed, sig = m.groups()
        amzdate = self.headers.get("x-amz-date", "")
        try:
            t = calendar.timegm(time.strptime(amzdate, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            s3_error(self, 403, "AccessDenied", "bad x-amz-date")
            return None
        if abs(t - st.now()) > MAX_SKEW:
            s3_error(self, 403, "RequestTimeTooSkewed",
                     "The difference between the request time and the current time is too large.",
                     "<RequestTime>%s</RequestTime><ServerTime>%s</ServerTime>"
                     % (amzdate, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.now()))))
            return None
        c = st.creds.get(kid)
        if not c:
            s3_error(self, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
            return None
        if (self.headers.get("x-amz-security-token") or None) != c["token"]:
            s3_error(self, 403, "InvalidToken", "The provided token is malformed or otherwise invalid.")
            return None
        if c["dead_at"] is not None and time.time() >= c["dead_at"]:
            s3_error(self, 400, "ExpiredToken", "The provided token has expired.")
            return None
        names = signed.split(";")
        unsigned = [k.lower() for k in self.headers.keys() if k.lower().startswith("x-amz-") and k.lower() not in names]
        if unsigned or day != amzdate[:8] or "host" not in names:
            s3_error(self, 403, "AccessDenied", "There were headers present in the request which were not signed")
            return None
        if not hmac.compare_digest(expected_signature(self, c["secret"], names, (day, region, service, "aws4_request"), amzdate), sig):
            s3_error(self, 403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature you provided.")
            return None
        return kid

    def _integrity(self, st, body):
        ck = self.headers.get("x-amz-checksum-sha256")
        if ck is not None and ck != base64.b64encode(hashlib.sha256(body).digest()).decode():
            s3_error(self, 400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.")
            return False
        md5 = self.headers.get("Content-MD5")
        if md5 is not None and md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            s3_error(self, 400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
            return False
        want = self.headers.get("x-amz-content-sha256", "")
        if want != "UNSIGNED-PAYLOAD" and want != hashlib.sha256(body).hexdigest():
            s3_error(self, 400, "XAmzContentSHA256Mismatch",
                     "The provided 'x-amz-content-sha256' header does not match what was computed.")
            return False
        if st.cfg["require_checksum"] and self.command == "PUT" and ck is None and md5 is None:
            s3_error(self, 400, "InvalidRequest", "Content-MD5 OR x-amz-checksum- HTTP header is required for "
                     "Put Object and Put Part requests with Object Lock parameters")
            return False
        return True

    def _bucket_key(self):
        path = urllib.parse.unquote(self.path.partition("?")[0])
        bucket, _, key = path.lstrip("/").partition("/")
        return bucket, key

    def _requester_pays(self, st):
        bucket, _ = self._bucket_key()
        if bucket in st.cfg["requester_pays"] and self.headers.get("x-amz-request-payer") != "requester":
            s3_error(self, 403, "AccessDenied", "Access Denied (requester pays bucket)")
            return False
        return True

    def _ssec(self, st, query):
        """SSE-C as S3 plays it; returns the key MD5 to record, "" for none,
        or None when refused."""
        alg = self.headers.get("x-amz-server-side-encryption-customer-algorithm")
        key = self.headers.get("x-amz-server-side-encryption-customer-key")
        md5 = self.headers.get("x-amz-server-side-encryption-customer-key-MD5")
        given = ""
        if alg or key or md5:
            try:
                raw = base64.b64decode(key or "", validate=True)
            except ValueError:
                raw = b""
            if alg != "AES256" or len(raw) != 32 or base64.b64encode(hashlib.md5(raw).digest()).decode() != md5:
                s3_error(self, 400, "InvalidArgument", "The calculated MD5 hash of the key did not match the hash that was provided.")
                return None
            given = md5
        bucket, key_name = self._bucket_key()
        stored = None
        if "uploadId" in query:
            stored = st.ssec.get("upload:" + query["uploadId"][0])
        elif self.command in ("GET", "HEAD") and key_name:
            stored = st.ssec.get(bucket + "/" + key_name)
        if stored is not None and stored != given:
            if not given:
                s3_error(self, 400, "InvalidRequest", "The object was stored using a form of Server Side "
                         "Encryption. The correct parameters must be provided to retrieve the object.")
            else:
                s3_error(self, 403, "AccessDenied", "Access Denied (wrong SSE-C key)")
            return None
        return given

    def _control(self, st, body):
        op = self.path[len("/_fake/"):]
        if op == "state":
            with st.lock:
                doc = {"issued": st.issued, "log": st.log, "imds_v1": st.imds_v1, "sessions": st.sessions,
                       "live": {k: c["source"] for k, c in st.creds.items()
                                if c["dead_at"] is None or time.time() < c["dead_at"]}}
            return send(self, 200, json.dumps(doc), "application/json")
        if op == "config":
            with st.lock:
                st.cfg.update(json.loads(body or b"{}"))
        elif op == "expire":
            with st.lock:
                for c in st.creds.values():
                    if c["source"] != "static":
                        c["dead_at"] = time.time()
        elif op == "clear-log":
            with st.lock:
                st.log = []
        else:
            return send(self, 404, "no such control", "text/plain")
        send(self, 200, "ok", "text/plain")

    def _relay(self, status, hdrs, data):
        self.send_response_only(status)
        for k, v in hdrs:
            if k.lower() != "date":   # the answer carries our clock, skewed or not
                self.send_header(k, v)
        self.send_header("Date", email.utils.formatdate(self.server.state.now(), usegmt=True))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _remember(self, st, query, md5, status, data):
        """After a success: SSE-C keys of objects and uploads, checksum
        algorithms of uploads, checksums of parts."""
        bucket, key = self._bucket_key()
        if status // 100 != 2:
            return
        with st.lock:
            if self.command == "PUT" and "partNumber" in query:
                st.part_sums[(query["uploadId"][0], query["partNumber"][0])] = self.headers.get("x-amz-checksum-sha256")
            elif self.command == "PUT" and md5:
                st.ssec[bucket + "/" + key] = md5
            elif self.command == "POST" and "uploads" in query:
                m = re.search(rb"<UploadId>([^<]+)</UploadId>", data)
                if m and md5:
                    st.ssec["upload:" + m.group(1).decode()] = md5
                if m:
                    st.mpu_algo[m.group(1).decode()] = self.headers.get("x-amz-checksum-algorithm")
            elif self.command == "POST" and "uploadId" in query and md5:
                st.ssec[bucket + "/" + key] = md5

    def _complete_checksums(self, st, query, body):
        """CompleteMultipartUpload of an upload created with SHA256 must
        repeat each part's checksum, as S3 insists; returns how many parts
        had one, or None when refused."""
        if self.command != "POST" or "uploadId" not in query:
            return None
        upload = query["uploadId"][0]
        parts = re.findall(rb"<Part>(.*?)</Part>", body, re.S)
        given = 0
        for p in parts:
            num = re.search(rb"<PartNumber>(\d+)</PartNumber>", p)
            ck = re.search(rb"<ChecksumSHA256>([^<]*)</ChecksumSHA256>", p)
            want = st.part_sums.get((upload, num.group(1).decode() if num else ""))
            if ck:
                given += 1
                if ck.group(1).decode() != want:
                    s3_error(self, 400, "InvalidPart", "One or more of the specified parts could not be found.")
                    return False
            elif st.mpu_algo.get(upload) == "SHA256":
                s3_error(self, 400, "InvalidRequest", "The upload was created using a sha256 checksum. The complete "
                         "request must include the checksum for each part.")
                return False
        return given

    def _handle(self):
        st = self.server.state
        body = self._body()
        self.refused = None
        if self.path.startswith("/_fake/"):
            return self._control(st, body)
        query = urllib.parse.parse_qs(self.path.partition("?")[2], keep_blank_values=True)
        kid = self._authenticate(st, body)
        md5 = None
        ok = kid and self._integrity(st, body) and self._requester_pays(st)
        if ok:
            md5 = self._ssec(st, query)
        status = None
        summed = None
        if ok and md5 is not None:
            summed = self._complete_checksums(st, query, body)
        if ok and md5 is not None and summed is not False:
            status, _, hdrs, data = self._forward(body)
            self._remember(st, query, md5, status, data)
            self._relay(status, hdrs, data)
        keep = ("user-agent", "content-type", "x-amz-storage-class", "x-amz-server-side-encryption",
                "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-checksum-sha256", "content-md5",
                "x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm", "x-amz-request-payer",
                "x-amz-server-side-encryption-customer-key-md5", "x-amz-security-token")
        hdr = {k.lower(): v for k, v in self.headers.items() if k.lower() in keep}
        if "x-amz-security-token" in hdr:
            hdr["x-amz-security-token"] = "(present)"
        st.record({"method": self.command, "path": self.path, "key_id": kid, "status": status,
                   "refused": self.refused, "headers": hdr, "at": time.time(),
                   "parts_checksummed": summed if summed is not False else None})

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def creds_xml(kid, c, exp):
    return ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
            "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>%s</AccessKeyId>"
            "<SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>"
            "<Expiration>%s</Expiration></Credentials><SubjectFromWebIdentityToken>system:serviceaccount:db:pg"
            "</SubjectFromWebIdentityToken></AssumeRoleWithWebIdentityResult>"
            "<ResponseMetadata><RequestId>fakeaws</RequestId></ResponseMetadata>"
            "</AssumeRoleWithWebIdentityResponse>" % (kid, c["secret"], c["token"], exp))


def sts_error(h, status, code, message):
    send(h, status, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
         "<RequestId>fakeaws</RequestId></ErrorResponse>" % (code, message))


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    NAME = "endpoint"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fakeaws %s: %s\n" % (self.NAME, fmt % args))


class StsHandler(Endpoint):
    NAME = "sts"

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode(), keep_blank_values=True)
        get = lambda k: form.get(k, [""])[0]
        if st.cfg["sts_fail"]:
            return sts_error(self, 503, "ServiceUnavailable", "injected by fakeaws")
        if get("Action") != "AssumeRoleWithWebIdentity" or get("Version") != "2011-06-15":
            return sts_error(self, 400, "InvalidAction", "unexpected action")
        with open(st.webid_token_file) as f:
            want = f.read().strip()
        if get("WebIdentityToken") != want:
            return sts_error(self, 400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
        if get("RoleArn") != st.role_arn:
            return sts_error(self, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        if not re.fullmatch(r"[\w+=,.@-]{2,64}", get("RoleSessionName")):
            return sts_error(self, 400, "ValidationError", "bad RoleSessionName")
        with st.lock:
            st.sessions.append(get("RoleSessionName"))
        send(self, 200, creds_xml(*st.issue("sts")))


def creds_json(kid, c, exp):
    return json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": kid,
                       "SecretAccessKey": c["secret"], "Token": c["token"], "Expiration": exp,
                       "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


class EcsHandler(Endpoint):
    NAME = "ecs"

    def do_GET(self):
        st = self.server.state
        if self.path != st.ecs_path:
            return send(self, 404, json.dumps({"code": "NotFound", "message": "no such path"}), "application/json")
        if st.ecs_token is not None and self.headers.get("Authorization") != st.ecs_token:
            return send(self, 401, json.dumps({"code": "AccessDeniedException",
                                               "message": "Authorization token is invalid"}), "application/json")
        send(self, 200, creds_json(*st.issue("ecs")), "application/json")


class ImdsHandler(Endpoint):
    NAME = "imds"
    ROLE = "fake-instance-role"

    def do_PUT(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if self.path != "/latest/api/token" or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return send(self, 400, "", "text/plain")
        tok = secrets.token_urlsafe(40)
        with st.lock:
            st.imds_tokens.add(tok)
        send(self, 200, tok, "text/plain", [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

    def do_GET(self):
        st = self.server.state
        if self.headers.get("X-aws-ec2-metadata-token") not in st.imds_tokens:
            with st.lock:
                st.imds_v1 += 1
            return send(self, 401, "", "text/plain")
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return send(self, 200, self.ROLE, "text/plain")
        if self.path == base + self.ROLE:
            return send(self, 200, creds_json(*st.issue("imds")), "text/plain")
        send(self, 404, "", "text/plain")


class Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def serve(handler, addr, state, verbose, upstream=None):
    host, port = addr.rsplit(":", 1)
    cls = Server6 if host.startswith("[") else ThreadingHTTPServer
    srv = cls((host.strip("[]"), int(port)), handler)
    srv.daemon_threads = True
    srv.state = state
    srv.verbose = verbose
    srv.upstream = upstream
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv


def closed(addr):
    """A port held (bound) but not listening: connections are refused at
    once, and nobody else can start a server there meanwhile."""
    host, port = addr.rsplit(":", 1)
    s = socket.socket()
    s.bind((host, int(port)))
    return s


def blackhole(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(64)   # connections complete in the kernel; nobody ever answers
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", default="")
    ap.add_argument("--s3")
    ap.add_argument("--sts")
    ap.add_argument("--ecs")
    ap.add_argument("--imds")
    ap.add_argument("--blackhole")
    ap.add_argument("--closed", help="hold a port that refuses connections")
    ap.add_argument("--ecs-listen", help="another address for the ecs endpoint (e.g. 169.254.170.2:80)")
    ap.add_argument("--imds-listen", help="another address for imds (e.g. 169.254.169.254:80)")
    ap.add_argument("--imds6", help="an IPv6 address for imds (e.g. [fd00:ec2::254]:80)")
    ap.add_argument("--static", action="append", default=[])
    ap.add_argument("--role-arn", default="arn:aws:iam::123456789012:role/totalrecall-test")
    ap.add_argument("--webid-token-file", default="")
    ap.add_argument("--ecs-path", default="/v2/credentials/fake-task")
    ap.add_argument("--ecs-token")
    ap.add_argument("--ready-file", help="written once every port listens: one 'name port' line each")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    state = State(a)
    ports = {}   # what listens where; port 0 in an address: the kernel picks one
    if a.s3:
        host, port = a.upstream.rsplit(":", 1)
        ports["s3"] = serve(S3Handler, a.s3, state, a.verbose, (host, int(port))).server_address[1]
    for flag, handler in (("sts", StsHandler), ("ecs", EcsHandler), ("imds", ImdsHandler),
                          ("ecs_listen", EcsHandler), ("imds_listen", ImdsHandler), ("imds6", ImdsHandler)):
        if getattr(a, flag):
            ports[flag] = serve(handler, getattr(a, flag), state, a.verbose).server_address[1]
    if a.blackhole:
        hole = blackhole(a.blackhole)
        ports["blackhole"] = hole.getsockname()[1]
    if a.closed:
        held = closed(a.closed)
        ports["closed"] = held.getsockname()[1]
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write("".join("%s %d\n" % kv for kv in ports.items()))
        os.rename(a.ready_file + ".tmp", a.ready_file)
    threading.Event().wait()


if __name__ == "__main__":
    main()
