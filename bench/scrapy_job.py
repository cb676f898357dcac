# ruff: noqa: RUF012,SIM115
"""What a user would write instead of tracker: a Scrapy spider + extruct + price-parser → SQLite.

Same job as ``tracker run``: robots.txt obeyed, conditional GET with the ETag and
Last-Modified kept per listing (a 304 is "checked, unchanged"), price and
availability from JSON-LD / microdata / OpenGraph (extruct) with price-parser on
common price selectors as the fallback, one history row per distinct state, every
check logged. Usage:

    python bench/scrapy_job.py LISTINGS.jsonl DB.sqlite3 CONCURRENCY PER_HOST DELAY

prints one JSON line (counts and elapsed seconds).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from datetime import UTC, datetime
from typing import Any

import extruct
import scrapy
from price_parser import Price
from scrapy.crawler import CrawlerProcess

SCHEMA = """
CREATE TABLE IF NOT EXISTS listing (id INTEGER PRIMARY KEY, url TEXT, etag TEXT, last_modified TEXT,
  price TEXT, currency TEXT, availability TEXT, checked_at TEXT);
CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY, listing_id INTEGER, price TEXT,
  currency TEXT, availability TEXT, first_seen TEXT, last_seen TEXT);
CREATE TABLE IF NOT EXISTS fetch_log (id INTEGER PRIMARY KEY, listing_id INTEGER, status INTEGER,
  outcome TEXT, at TEXT);
"""
FALLBACK = [
    "#corePrice_feature_div .a-offscreen::text",
    ".a-price .a-offscreen::text",
    "[itemprop=price]::attr(content)",
    "meta[property='product:price:amount']::attr(content)",
    ".price ins .amount::text",
    ".price::text",
]
COUNTS = {"ok": 0, "not_modified": 0, "no_price": 0, "error": 0, "changed": 0}


def _avail(value: Any) -> str | None:
    if not value:
        return None
    text = str(value[0] if isinstance(value, list) else value)
    return text.rsplit("/", 1)[-1] or None


def _offer(data: dict[str, list[dict[str, Any]]]) -> tuple[str | None, str | None, str | None]:
    items = []
    for item in data.get("json-ld", []) + data.get("microdata", []):
        items += item.get("@graph", [item]) if isinstance(item.get("@graph"), list) else [item]
    for item in items:
        if not isinstance(item, dict):
            continue
        types = item.get("@type")
        types = types if isinstance(types, list) else [types]
        if "Product" not in types:
            continue
        offers = item.get("offers")
        for offer in offers if isinstance(offers, list) else [offers]:
            if not isinstance(offer, dict):
                continue
            price = offer.get("price") or offer.get("lowPrice")
            if price is None and isinstance(offer.get("priceSpecification"), dict):
                price = offer["priceSpecification"].get("price")
            if price is not None:
                parsed = Price.fromstring(str(price))
                return (
                    str(parsed.amount) if parsed.amount is not None else None,
                    offer.get("priceCurrency"),
                    _avail(offer.get("availability")),
                )
    for og in data.get("opengraph", []):
        props = dict(p for p in og.get("properties", []) if isinstance(p, tuple | list))
        if "product:price:amount" in props:
            return (
                props["product:price:amount"],
                props.get("product:price:currency"),
                _avail(props.get("product:availability")),
            )
    return None, None, None


class Store:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.pending: list[dict[str, Any]] = []

    def validators(self) -> dict[int, tuple[str | None, str | None]]:
        rows = self.db.execute("SELECT id, etag, last_modified FROM listing")
        return {i: (e, m) for i, e, m in rows}

    def add(self, item: dict[str, Any]) -> None:
        self.pending.append(item)
        if len(self.pending) >= 100:
            self.flush()

    def flush(self) -> None:
        db, batch = self.db, self.pending
        self.pending = []
        with db:
            for it in batch:
                lid, now = it["id"], it["at"]
                db.execute(
                    "INSERT INTO fetch_log (listing_id, status, outcome, at) VALUES (?,?,?,?)",
                    (lid, it["status"], it["outcome"], now),
                )
                if it["outcome"] == "not_modified":
                    db.execute(
                        "UPDATE history SET last_seen=? WHERE id=(SELECT max(id) FROM history"
                        " WHERE listing_id=?)",
                        (now, lid),
                    )
                    continue
                if it["outcome"] not in ("ok", "no_price"):
                    continue
                row = db.execute(
                    "SELECT price, currency, availability FROM listing WHERE id=?", (lid,)
                ).fetchone()
                state = (it["price"], it["currency"], it["availability"])
                db.execute(
                    "INSERT INTO listing (id, url, etag, last_modified, price, currency,"
                    " availability, checked_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE"
                    " SET etag=excluded.etag, last_modified=excluded.last_modified,"
                    " price=excluded.price, currency=excluded.currency,"
                    " availability=excluded.availability, checked_at=excluded.checked_at",
                    (lid, it["url"], it["etag"], it["last_modified"], *state, now),
                )
                if row is None or tuple(row) != state:
                    COUNTS["changed"] += 1
                    db.execute(
                        "INSERT INTO history (listing_id, price, currency, availability,"
                        " first_seen, last_seen) VALUES (?,?,?,?,?,?)",
                        (lid, *state, now, now),
                    )
                else:
                    db.execute(
                        "UPDATE history SET last_seen=? WHERE id=(SELECT max(id) FROM history"
                        " WHERE listing_id=?)",
                        (now, lid),
                    )


class ListingSpider(scrapy.Spider):
    name = "listings"
    handle_httpstatus_list = [304, 404, 410]

    def __init__(self, listings: list[dict[str, Any]], store: Store, **kw: Any) -> None:
        super().__init__(**kw)
        self.listings = listings
        self.store = store

    async def start(self) -> Any:
        known = self.store.validators()
        for ls in self.listings:
            etag, modified = known.get(ls["id"], (None, None))
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if modified:
                headers["If-Modified-Since"] = modified
            yield scrapy.Request(
                ls["url"],
                headers=headers,
                callback=self.parse,
                errback=self.failed,
                cb_kwargs={"lid": ls["id"]},
                dont_filter=True,
            )

    def parse(self, response: scrapy.http.Response, lid: int) -> None:
        now = datetime.now(UTC).isoformat()
        item: dict[str, Any] = {
            "id": lid,
            "at": now,
            "status": response.status,
            "url": response.url,
        }
        if response.status == 304:
            item["outcome"] = "not_modified"
            COUNTS["not_modified"] += 1
        elif response.status != 200:
            item["outcome"] = "error"
            COUNTS["error"] += 1
        else:
            data = extruct.extract(
                response.text,
                base_url=response.url,
                syntaxes=["json-ld", "microdata", "opengraph"],
                uniform=True,
            )
            price, currency, availability = _offer(data)
            if price is None:
                for sel in FALLBACK:
                    text = response.css(sel).get()
                    if text:
                        parsed = Price.fromstring(text)
                        if parsed.amount is not None:
                            price, currency = str(parsed.amount), parsed.currency
                            break
            outcome = "ok" if price is not None else "no_price"
            COUNTS[outcome] += 1
            h = response.headers
            item.update(
                outcome=outcome,
                price=price,
                currency=currency,
                availability=availability,
                etag=(h.get("ETag") or b"").decode() or None,
                last_modified=(h.get("Last-Modified") or b"").decode() or None,
            )
        self.store.add(item)

    def failed(self, failure: Any) -> None:
        COUNTS["error"] += 1

    def closed(self, reason: str) -> None:
        self.store.flush()


def main() -> None:
    listings_file, db_path, concurrency, per_host, delay = sys.argv[1:6]
    listings = [json.loads(line) for line in open(listings_file)]
    store = Store(db_path)
    settings = {
        "CONCURRENT_REQUESTS": int(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": int(per_host),
        "DOWNLOAD_DELAY": float(delay),
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "RETRY_TIMES": 2,
        "DOWNLOAD_TIMEOUT": 20,
        "USER_AGENT": "scrapy-bench (price checks)",
        "AUTOTHROTTLE_ENABLED": False,
    }
    t = time.perf_counter()
    process = CrawlerProcess(settings)
    process.crawl(ListingSpider, listings=listings, store=store)
    process.start()
    print(json.dumps(COUNTS | {"elapsed": time.perf_counter() - t}))


if __name__ == "__main__":
    main()
