#!/usr/bin/env python3
"""latency_proxy.py - a TCP proxy that makes a local server as slow to
answer as a distant one: every byte a client sends reaches the server
--delay milliseconds later (in order, pipelined: a stream is delayed, not
slowed down), answers come back at once.  So each request/answer round
trip, TLS handshakes included, costs about --delay more, the way real S3
answers in roughly 15-40 ms where moto on loopback answers in about 1.

    latency_proxy.py --upstream 127.0.0.1:PORT [--port 0] [--delay 25 | --delay-file F] [--ready-file F]

--port 0 lets the kernel pick; --ready-file receives the port once the
proxy listens.  --delay-file: the delay in milliseconds is read from that
file (at most twice a second), so one proxy serves several profiles.  It knows nothing of HTTP or TLS, so it sits in front of
anything (here: stunnel in front of moto_server).  A client that sends
faster than the delay drains is held back once 8 MiB wait in the proxy
(about 2.6 Gbit/s at 25 ms), so memory stays bounded.
"""
import argparse
import asyncio
import os
import sys

BUF = 256 * 1024
HOLD_MAX = 8 << 20


class Delay:
    """The current delay in seconds: fixed, or read from a file."""

    def __init__(self, ms, path):
        self.value = ms / 1000.0
        self.path = path
        self.read_at = 0.0

    def get(self, now):
        if self.path and now - self.read_at > 0.5:
            self.read_at = now
            try:
                with open(self.path) as f:
                    self.value = float(f.read().strip() or 0) / 1000.0
            except (OSError, ValueError):
                pass
        return self.value


async def delayed_pump(reader, writer, delay):
    """Client to server: each piece leaves the delay after it came."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    held = 0
    room = asyncio.Event()
    room.set()

    async def sender():
        nonlocal held
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
            held -= len(data)
            if held < HOLD_MAX:
                room.set()
        if writer.can_write_eof():
            writer.write_eof()

    task = asyncio.ensure_future(sender())
    try:
        while True:
            await room.wait()
            data = await reader.read(BUF)
            if not data:
                break
            held += len(data)
            if held >= HOLD_MAX:
                room.clear()
            now = loop.time()
            queue.put_nowait((now + delay.get(now), data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((loop.time(), None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def plain_pump(reader, writer):
    try:
        while True:
            data = await reader.read(BUF)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def handle(creader, cwriter, upstream, delay):
    try:
        ureader, uwriter = await asyncio.open_connection(*upstream)
    except OSError:
        cwriter.close()
        return
    await asyncio.gather(delayed_pump(creader, uwriter, delay), plain_pump(ureader, cwriter))
    for w in (uwriter, cwriter):
        try:
            w.close()
        except OSError:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--delay", type=float, default=25.0, help="milliseconds")
    ap.add_argument("--delay-file", help="a file holding the delay in milliseconds")
    ap.add_argument("--ready-file")
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    upstream = (host, int(port))
    delay = Delay(a.delay, a.delay_file)
    srv = await asyncio.start_server(lambda r, w: handle(r, w, upstream, delay), "127.0.0.1", a.port)
    bound = srv.sockets[0].getsockname()[1]
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % bound)
        os.rename(a.ready_file + ".tmp", a.ready_file)
    else:
        print(bound, flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
