#!/usr/bin/env python3
"""azhelper.py - a second, independent Blob service client for the azure
driver's tests (Python's hmac and hashlib, not the driver's code), so the
tests can set up and inspect Azurite without trusting the driver:

    azhelper.py mkcontainer NAME        create a container (201, or 409 if it exists)
    azhelper.py rmcontainer NAME        delete a container
    azhelper.py list NAME [PREFIX]      blob names, one per line, as the service lists them
    azhelper.py uncommitted NAME BLOB   number of uncommitted blocks of BLOB
    azhelper.py fill NAME PREFIX N      put N one-byte blobs PREFIX00001, PREFIX00002, ...
    azhelper.py sas PERMS EXPIRY [START]  an account SAS for the blob service
                                          (PERMS e.g. rwdlc; times ISO 8601, UTC;
                                          resource types AZ_SAS_SRT, default sco)

The endpoint, account and key come from AZ_ENDPOINT (e.g.
http://127.0.0.1:PORT/ACCOUNT), AZ_ACCOUNT and AZ_KEY (base64).
"""
import base64
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from email.utils import formatdate

VERSION = "2021-08-06"


def env():
    ep = urllib.parse.urlsplit(os.environ["AZ_ENDPOINT"])
    return ep, os.environ["AZ_ACCOUNT"], base64.b64decode(os.environ["AZ_KEY"])


CONN = None


def connection(ep):
    """One kept-alive connection for all the requests of a run."""
    global CONN
    if CONN is None:
        cls = http.client.HTTPSConnection if ep.scheme == "https" else http.client.HTTPConnection
        kw = {}
        if ep.scheme == "https":
            import ssl
            kw["context"] = ssl.create_default_context(cafile=os.environ.get("AZ_CA_FILE"))
        CONN = cls(ep.hostname, ep.port, timeout=30, **kw)
    return CONN


def request(method, path, query=None, body=b"", headers=None):
    """One Shared Key request; path is below the endpoint ("/container")."""
    ep, account, key = env()
    query = query or {}
    full = ep.path.rstrip("/") + urllib.parse.quote(path, safe="/~")
    hdrs = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": VERSION}
    hdrs.update(headers or {})
    if body:
        hdrs["Content-Length"] = str(len(body))
    std = ["Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type",
           "Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"]
    lines = [method] + [hdrs.get(h, "") for h in std]
    ms = sorted((k.lower(), v) for k, v in hdrs.items() if k.lower().startswith("x-ms-"))
    canon = "".join("%s:%s\n" % kv for kv in ms)
    res = "/%s%s" % (account, full)
    for k in sorted(query):
        res += "\n%s:%s" % (k.lower(), query[k])
    to_sign = "\n".join(lines) + "\n" + canon + res
    sig = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()
    hdrs["Authorization"] = "SharedKey %s:%s" % (account, sig)
    url = full + ("?" + urllib.parse.urlencode(query) if query else "")
    conn = connection(ep)
    conn.request(method, url, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, data


def names(container, prefix=""):
    marker = ""
    while True:
        q = {"restype": "container", "comp": "list", "prefix": prefix}
        if marker:
            q["marker"] = marker
        st, data = request("GET", "/" + container, q)
        if st != 200:
            sys.exit("list: %d %s" % (st, data[:200]))
        root = ET.fromstring(data)
        for b in root.iter("Blob"):
            yield b.find("Name").text
        marker = root.findtext("NextMarker") or ""
        if not marker:
            return


def account_sas(perms, expiry, start=""):
    _, account, key = env()
    # Account SAS, version 2020-12-06 and later: nine fields and the
    # encryption scope, each followed by a newline.
    srt = os.environ.get("AZ_SAS_SRT", "sco")
    fields = [account, perms, "b", srt, start, expiry, "", "http", VERSION, ""]
    sig = base64.b64encode(hmac.new(key, ("\n".join(fields) + "\n").encode(), hashlib.sha256).digest()).decode()
    q = {"sv": VERSION, "ss": "b", "srt": srt, "sp": perms, "se": expiry, "spr": "http", "sig": sig}
    if start:
        q["st"] = start
    return urllib.parse.urlencode(q)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "mkcontainer":
        st, data = request("PUT", "/" + args[0], {"restype": "container"})
        if st not in (201, 409):
            sys.exit("mkcontainer: %d %s" % (st, data[:300]))
    elif cmd == "rmcontainer":
        st, data = request("DELETE", "/" + args[0], {"restype": "container"})
        if st != 202:
            sys.exit("rmcontainer: %d %s" % (st, data[:300]))
    elif cmd == "list":
        for n in names(args[0], args[1] if len(args) > 1 else ""):
            print(n)
    elif cmd == "uncommitted":
        st, data = request("GET", "/%s/%s" % (args[0], args[1]), {"comp": "blocklist", "blocklisttype": "uncommitted"})
        if st == 404:
            print(0)
            return
        if st != 200:
            sys.exit("uncommitted: %d %s" % (st, data[:300]))
        print(len(ET.fromstring(data).findall("./UncommittedBlocks/Block")))
    elif cmd == "fill":
        for i in range(1, int(args[2]) + 1):
            st, data = request("PUT", "/%s/%s%05d" % (args[0], args[1], i), body=b"x",
                               headers={"x-ms-blob-type": "BlockBlob"})
            if st != 201:
                sys.exit("fill: %d %s" % (st, data[:300]))
    elif cmd == "sas":
        print(account_sas(args[0], args[1], args[2] if len(args) > 2 else ""))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
