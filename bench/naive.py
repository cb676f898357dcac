# ruff: noqa: SIM115
"""The raw limit: httpx.AsyncClient + a full selectolax (lexbor) parse per page.

No robots.txt, no politeness, no extraction logic, no storage. Usage:
    python bench/naive.py URLS_FILE CONCURRENCY      (prints one JSON line)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
from selectolax.lexbor import LexborHTMLParser


async def main(urls: list[str], concurrency: int) -> dict[str, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    ok = parsed = 0
    it = iter(urls)
    async with httpx.AsyncClient(limits=limits, headers={"Accept-Encoding": "gzip"}) as client:

        async def worker() -> None:
            nonlocal ok, parsed
            for url in it:
                r = await client.get(url)
                ok += r.status_code == 200
                tree = LexborHTMLParser(r.content)
                parsed += tree.css_first("title") is not None

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"ok": ok, "parsed": parsed}


if __name__ == "__main__":
    urls = [json.loads(line)["url"] for line in open(sys.argv[1])]
    t = time.perf_counter()
    out = asyncio.run(main(urls, int(sys.argv[2])))
    print(json.dumps(out | {"elapsed": time.perf_counter() - t}))
