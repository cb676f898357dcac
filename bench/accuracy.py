"""Extraction accuracy and speed on a corpus of saved product pages.

    python bench/accuracy.py [--corpus ../shared/corpus] [--json out.json]
                             [--floors price=0.9,availability=0.9]

Reads ``manifest.jsonl`` in the corpus, runs :func:`tracker.extract.extract` on every page and
prints precision / recall / F1 for price, currency, availability, InStock and OutOfStock with
the scoring rule of the corpus README (Zyte's product-extraction benchmark): per page and
field, with the accepted set T and the prediction p (None when nothing was returned):

* p is None: a false negative if T is not empty;
* p in T: a true positive;
* otherwise a false positive, and also a false negative if T is not empty.

A field whose ``asserted`` flag is false is not scored for that page. Exits 1 when an F1 is
under its floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.extract import extract  # noqa: E402
from tracker.models import Availability, Offer  # noqa: E402

FIELDS = ("price", "currency", "availability", "InStock", "OutOfStock")
OUT_OF_STOCK = {Availability.OutOfStock, Availability.SoldOut, Availability.Discontinued}


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: Any, accepted: set[Any]) -> bool:
        """Score one page; True when the prediction is right (or rightly absent)."""
        if predicted is None:
            if accepted:
                self.fn += 1
                return False
            return True
        if predicted in accepted:
            self.tp += 1
            return True
        self.fp += 1
        if accepted:
            self.fn += 1
        return False

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _avail_class(value: str | Availability | None) -> str | None:
    """Two-valued availability of the scoring rule: "OutOfStock" or "InStock"."""
    if value is None:
        return None
    try:
        a = Availability(value)
    except ValueError:
        return None
    return "OutOfStock" if a in OUT_OF_STOCK else "InStock"


def _decimals(values: list[str]) -> set[Decimal]:
    out: set[Decimal] = set()
    for v in values:
        try:
            out.add(Decimal(str(v)))
        except InvalidOperation:
            continue
    return out


def score_page(entry: dict[str, Any], offer: Offer, counts: dict[str, Counts]) -> list[str]:
    """Add one page to the counts; return the names of the fields it got wrong."""
    wrong: list[str] = []
    asserted = entry.get("asserted", {})
    if asserted.get("price", True):
        accepted = _decimals(entry.get("expected_price_any_of") or [])
        if entry.get("expected_price") is not None and not accepted:
            accepted = _decimals([entry["expected_price"]])
        if not counts["price"].add(offer.price, accepted):
            wrong.append("price")
    if asserted.get("currency", True):
        iso = entry.get("expected_currency_iso")
        if not counts["currency"].add(offer.currency, {iso} if iso else set()):
            wrong.append("currency")
    if asserted.get("availability", True):
        expected = _avail_class(entry.get("expected_availability"))
        got = _avail_class(offer.availability)
        ok = counts["availability"].add(got, {expected} if expected else set())
        for cls in ("InStock", "OutOfStock"):
            counts[cls].add(got if got == cls else None, {expected} if expected == cls else set())
        if not ok:
            wrong.append("availability")
    return wrong


def _timed(body: bytes, url: str | None, repeat: int) -> tuple[Offer, float]:
    best: list[float] = []
    offer: Offer | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        offer = extract(body, url=url)
        best.append(time.perf_counter() - t0)
    assert offer is not None
    return offer, statistics.median(best)


def _one_megabyte_page() -> bytes:
    """A synthetic ~1 MB product page shaped like a real one: about 40 % inline scripts and
    styles (app state, tracking), the product block, then many related-product cards."""
    state = json.dumps(
        {"products": [{"id": i, "name": f"Item {i}", "price": i + 0.99} for i in range(6000)]}
    )
    style = "".join(f".c{i}{{margin:{i % 9}px;color:#{i % 999:03d}}}" for i in range(6000))
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Big Kettle</title>'
        '<meta property="og:title" content="Big Kettle">'
        f"<style>{style}</style><script>window.__STATE__={state}</script>"
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":"Product",'
        '"name":"Big Kettle","offers":{"@type":"Offer","price":"49.99","priceCurrency":"USD",'
        '"availability":"https://schema.org/InStock"}}</script></head><body>'
        '<header><nav><a href="/">Home</a><a href="/kitchen">Kitchen</a></nav></header>'
        '<main><h1>Big Kettle</h1><div class="buy-box"><span class="price">$49.99</span>'
        "<p>In stock</p><button>Add to cart</button></div>"
        "<p>" + "A sturdy kettle that boils water quickly and quietly. " * 40 + "</p></main>"
    )
    card = (
        '<div class="related-products"><div class="card"><a href="/p/{i}">Other thing {i}</a>'
        '<span class="price">${i}.00</span><p>Lorem ipsum dolor sit amet, consectetur '
        "adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna.</p></div>"
        "</div>"
    )
    parts = [head]
    size = len(head)
    i = 0
    while size < 1_000_000:
        chunk = card.format(i=i % 500 + 1)
        parts.append(chunk)
        size += len(chunk)
        i += 1
    parts.append("<footer>Help | Contact</footer></body></html>")
    return "".join(parts).encode()


def _parse_floors(text: str | None) -> dict[str, float]:
    floors: dict[str, float] = {}
    if not text:
        return floors
    for part in text.split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in FIELDS:
            raise SystemExit(f"unknown field in --floors: {name!r} (one of {', '.join(FIELDS)})")
        try:
            floors[name] = float(value)
        except ValueError as exc:
            raise SystemExit(f"--floors {name}: {value!r} is not a number") from exc
    return floors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--json", dest="json_out", help="write the results to this file")
    parser.add_argument("--floors", help="minimum F1 per field, e.g. price=0.9,availability=0.9")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per page (median)")
    args = parser.parse_args(argv)
    floors = _parse_floors(args.floors)

    corpus = Path(args.corpus)
    manifest = corpus / "manifest.jsonl"
    if not manifest.is_file():
        print(f"no manifest at {manifest}: pass --corpus DIR", file=sys.stderr)
        return 2
    entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]

    counts = {f: Counts() for f in FIELDS}
    timings: list[float] = []
    failures: list[dict[str, Any]] = []
    for entry in entries:
        body = (corpus / entry["file"]).read_bytes()
        offer, seconds = _timed(body, entry.get("page_url"), max(1, args.repeat))
        timings.append(seconds)
        wrong = score_page(entry, offer, counts)
        if wrong:
            failures.append(
                {
                    "file": entry["file"],
                    "fields": wrong,
                    "expected": {
                        "price": entry.get("expected_price_any_of"),
                        "currency": entry.get("expected_currency_iso"),
                        "availability": entry.get("expected_availability"),
                    },
                    "got": {
                        "price": str(offer.price) if offer.price is not None else None,
                        "currency": offer.currency,
                        "availability": offer.availability.value if offer.availability else None,
                        "status": offer.status.value,
                    },
                    "method": offer.method,
                    "reason": offer.reason,
                }
            )

    big = _one_megabyte_page()
    _, big_seconds = _timed(big, "https://shop.example.com/p/big-kettle", 15)

    print(f"{len(entries)} pages from {manifest}\n")
    print(f"{'field':<13} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}  floor")
    below: list[str] = []
    for name in FIELDS:
        c = counts[name]
        floor = floors.get(name)
        mark = ""
        if floor is not None:
            mark = f"{floor:.2f}" + ("  BELOW" if c.f1 < floor else "")
            if c.f1 < floor:
                below.append(name)
        print(
            f"{name:<13} {c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f} "
            f"{c.tp:4d} {c.fp:4d} {c.fn:4d}  {mark}"
        )
    ms = sorted(t * 1000 for t in timings)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"\ntime per page: median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, "
        f"max {ms[-1]:.2f} ms; synthetic {len(big) / 1e6:.1f} MB page: {big_seconds * 1000:.2f} ms"
    )
    if failures:
        print(f"\n{len(failures)} pages with a wrong field:")
        for f in failures:
            print(
                f"  {f['file']}  [{','.join(f['fields'])}]\n"
                f"      expected {f['expected']}\n"
                f"      got      {f['got']} method={f['method']} reason={f['reason']}"
            )
    if args.json_out:
        result = {
            "pages": len(entries),
            "scores": {
                n: {
                    "precision": c.precision,
                    "recall": c.recall,
                    "f1": c.f1,
                    "tp": c.tp,
                    "fp": c.fp,
                    "fn": c.fn,
                }
                for n, c in counts.items()
            },
            "time_ms": {"median": statistics.median(ms), "p95": p95, "one_mb": big_seconds * 1000},
            "failures": failures,
        }
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    if below:
        print(f"\nF1 under the floor for: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
