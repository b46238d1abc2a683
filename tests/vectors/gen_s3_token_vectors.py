#!/usr/bin/env python3
# gen_s3_token_vectors.py - prints the SigV4 vectors that
# tests/unit/test_s3_driver.c holds (session token, x-amz-checksum-sha256,
# SSE-C and request-payer headers, an UploadPart query), computed by
# botocore, an implementation independent of ours:
#     python3 tests/vectors/gen_s3_token_vectors.py
import datetime, hashlib, base64, json, sys
import botocore.auth as A
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
class FixedDT(datetime.datetime):
    @classmethod
    def utcnow(cls): return cls(2024, 5, 1, 12, 0, 0)
    @classmethod
    def now(cls, tz=None): return cls(2024, 5, 1, 12, 0, 0, tzinfo=tz)
A.datetime.datetime = FixedDT
creds = Credentials("ASIAEXAMPLEKEYID", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                    "IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes==")
def vec(name, method, host, path, query, headers, body):
    sha = hashlib.sha256(body).hexdigest()
    h = dict(headers)
    h["X-Amz-Content-SHA256"] = sha
    url = "https://%s%s%s" % (host, urllib_quote(path), ("?" + query) if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=h)
    A.S3SigV4Auth(creds, "s3", "eu-west-1").add_auth(req)
    out = {"name": name, "method": method, "host": host, "path": path, "query": query,
           "headers": headers, "body": body.decode(), "authorization": req.headers["Authorization"]}
    return out
import urllib.parse
def urllib_quote(p): return urllib.parse.quote(p, safe="/~")
ssec = base64.b64encode(bytes(range(32))).decode()
ssec_md5 = base64.b64encode(hashlib.md5(bytes(range(32))).digest()).decode()
body = b"hello, wal\n"
ck = base64.b64encode(hashlib.sha256(body).digest()).decode()
part = b"part two of a multipart upload"
pck = base64.b64encode(hashlib.sha256(part).digest()).decode()
vs = [
  vec("put-object-token-checksum", "PUT", "pg-bucket.s3.eu-west-1.amazonaws.com",
      "/k8s/db1/wal/0000000100000000/000000010000000000000001", "",
      {"Content-Type": "application/octet-stream", "x-amz-checksum-sha256": ck,
       "x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-storage-class": "STANDARD_IA"}, body),
  vec("upload-part-token-checksum", "PUT", "s3.eu-west-1.amazonaws.com",
      "/pg-bucket/k8s/db1/chunks/ab/c+d e", "partNumber=2&uploadId=abc%2Fdef%2Bg%3D%3D",
      {"x-amz-checksum-sha256": pck, "x-amz-sdk-checksum-algorithm": "SHA256",
       "x-amz-server-side-encryption-customer-algorithm": "AES256",
       "x-amz-server-side-encryption-customer-key": ssec,
       "x-amz-server-side-encryption-customer-key-MD5": ssec_md5}, part),
  vec("get-object-token-ssec-payer", "GET", "pg-bucket.s3.eu-west-1.amazonaws.com",
      "/k8s/db1/keyring", "",
      {"x-amz-request-payer": "requester", "x-amz-server-side-encryption-customer-algorithm": "AES256",
       "x-amz-server-side-encryption-customer-key": ssec,
       "x-amz-server-side-encryption-customer-key-MD5": ssec_md5}, b""),
]
for v in vs:
    print("name", v["name"])
    print("method", v["method"])
    print("host", v["host"])
    print("path", v["path"])
    for q in (v["query"].split("&") if v["query"] else []):
        k, _, val = q.partition("=")
        print("query", k, urllib.parse.unquote(val))
    for k, val in v["headers"].items():
        print("header", k, val)
    print("body", v["body"].rstrip("\n"), "\\n" if v["body"].endswith("\n") else "")
    print("authorization", v["authorization"])
    print()
