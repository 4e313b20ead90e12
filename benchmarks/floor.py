"""The floor of one probe round: a raw-socket client asking every instance for the same replies.

Written for the benchmarks, with no dependency beyond the standard library and no part of
`reconciler`: one asyncio stream (plain TCP, HTTP/1.1 keep-alive) per instance, every instance at
once, and on each connection the given paths one after another (GET, reply read by its
Content-Length or chunk by chunk, JSON decoded). Nothing is checked beyond a 200 status and a JSON
body, no timeout, no error classes: what is left is the least any client must do to get the
answers a plan reads. It runs as its own process, so its wall time includes interpreter start-up,
like `orc plan`'s.

Run: `python benchmarks/floor.py URLS_FILE [--path /api/version --path /api/tags ...]`, with one
base URL per line in URLS_FILE (a path prefix is kept). Prints the number of requests and replies
bytes on one line; exits 1 when a request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PATHS = ("/api/version", "/api/tags", "/api/ps")


async def read_reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 reply: its status and body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = bytearray()
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, bytes(body)
        body += chunk[:-2]


async def one_instance(url: str, paths: list[str]) -> tuple[int, int]:
    """Every path of one instance over one keep-alive connection: (requests, body bytes)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    prefix = parts.path.rstrip("/")
    reader, writer = await asyncio.open_connection(host, port)
    received = 0
    try:
        for path in paths:
            writer.write(
                f"GET {prefix}{path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Accept: application/json\r\n\r\n".encode()
            )
            status, body = await read_reply(reader)
            if status != 200:
                raise RuntimeError(f"{url}{path}: HTTP {status}")
            json.loads(body)
            received += len(body)
    finally:
        writer.close()
    return len(paths), received


async def probe_all(urls: list[str], paths: list[str]) -> tuple[int, int]:
    """Every instance at once; totals of requests and body bytes."""
    done = await asyncio.gather(*(one_instance(url, paths) for url in urls))
    return sum(r for r, _ in done), sum(b for _, b in done)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", type=Path, help="a file with one base URL per line")
    parser.add_argument("--path", action="append", dest="paths", help="repeatable")
    args = parser.parse_args(argv)
    urls = [u.strip() for u in args.urls.read_text().splitlines() if u.strip()]
    try:
        requests, received = asyncio.run(probe_all(urls, args.paths or list(DEFAULT_PATHS)))
    except (OSError, RuntimeError, ValueError, asyncio.IncompleteReadError) as exc:
        print(f"floor: {exc}", file=sys.stderr)
        return 1
    print(f"{requests} requests, {received} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
