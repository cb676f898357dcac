"""Render benchmark: `tracker render` of many guides (issue 8).

Builds a configuration with G guides of P products each (3 listings per
product, two output files per guide: HTML and Markdown), fills the history
through the library (one observation per listing), then times the `tracker
render` command as a user runs it, process start included:

- ``first``: every guide is new, every file written;
- ``unchanged``: nothing moved, nothing rewritten;
- ``1% moved``: 1% of the products changed band, only their guides rewritten;
- ``force``: every guide re-rendered (same text, so no file is rewritten).

    .venv/bin/python bench/render.py --guides 1000 --json bench/results/render.json

Prints a table and writes JSON. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.config import load_config  # noqa: E402
from tracker.models import Availability, Offer, PageStatus  # noqa: E402
from tracker.store import CheckResult, open_store  # noqa: E402

RETAILERS = ("Shop A", "Shop B", "Shop C")


def write_config(root: Path, guides: int, per_guide: int, products: int) -> Path:
    lines = [
        "[tracker]",
        'database = "sqlite:///db.sqlite3"',
        'feed = "site/latest.json"',
        "",
    ]
    rng = random.Random(8)
    for g in range(guides):
        picks = [f"p{(g * per_guide + k) % products}" for k in range(per_guide)]
        lines += [
            "[[guides]]",
            f'id = "guide-{g}"',
            f'title = "Guide {g}"',
            f"products = {json.dumps(picks)}",
            'currency = "USD"',
            'template = "quick-picks"',
            f'output = ["site/guide-{g}.html", "site/guide-{g}.md"]',
            'bands.USD = { limits = [150, 400], labels = ["$", "$$", "$$$"] }',
            "",
        ]
    for p in range(products):
        lines += [
            "[[products]]",
            f'id = "p{p}"',
            f'name = "Product {p} <{rng.randrange(10**6)}>"',
            'top_strength = "Clean & quiet"',
            'key_weakness = "Runs warm"',
        ]
        for r, retailer in enumerate(RETAILERS):
            lines += [
                "  [[products.listings]]",
                f'  retailer = "{retailer}"',
                f'  url = "https://shop{r}.example/products/p{p}"',
            ]
        lines.append("")
    path = root / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def observe(config_path: Path, *, now: datetime, prices: dict[int, Decimal]) -> None:
    """Record one observation per listing whose price is in ``prices``."""
    config = load_config(config_path)
    with open_store(config.tracker.database) as store:
        store.sync_config(config, now=now)
        ids = [x.id for x in store.active_listings()]
        results = [
            CheckResult(
                listing_id=i,
                checked_at=now,
                duration_ms=1,
                offer=Offer(
                    status=PageStatus.ok,
                    price=prices[i],
                    currency="USD",
                    availability=Availability.InStock,
                ),
            )
            for i in ids
            if i in prices
        ]
        for k in range(0, len(results), 2000):
            store.record(results[k : k + 2000])


def tracker_render(config: Path, *extra: str) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "tracker", "-q", "--config", str(config), "render", *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"tracker render failed ({proc.returncode}):\n{proc.stderr}")
    # the last line sums up: "1000 guides: 2000 unchanged" or "…: 97 unchanged, 1903 written"
    counts = dict(
        (what, int(n)) for n, what in re.findall(r"(\d+) (\w+)", proc.stdout.splitlines()[-1])
    )
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 3),
        # system time is mostly the file system creating files: it varies with the disk's
        # state (writeback in progress), not with tracker
        "sys_s": round(after.ru_stime - before.ru_stime, 3),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        "written": counts.get("written", 0),
        "unchanged": counts.get("unchanged", 0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--guides", type=int, default=1000)
    ap.add_argument("--per-guide", type=int, default=5, help="products per guide")
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/tracker-render-bench"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    config = write_config(args.workdir, args.guides, args.per_guide, args.products)
    rng = random.Random(1)
    # `tracker render` runs on the real clock: the history must be recent, or every price
    # is past its maximum age and no guide shows one (nothing moves at "1% moved")
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    listings = args.products * len(RETAILERS)
    prices = {i: Decimal(rng.randrange(5000, 60000)) / 100 for i in range(1, listings + 1)}
    t0 = time.perf_counter()
    observe(config, now=t, prices=prices)
    setup = time.perf_counter() - t0

    rows: list[dict[str, Any]] = []

    def step(name: str, *extra: str) -> None:
        row = {"step": name, **tracker_render(config, *extra)}
        rows.append(row)
        print(
            f"{name:<12} {row['wall_s']:>7.2f} s wall  {row['cpu_s']:>6.2f} s CPU "
            f"({row['sys_s']:.2f} system)  "
            f"{row['peak_rss_mb']:>6.1f} MB  written {row['written']:>5}  "
            f"unchanged {row['unchanged']:>5}",
            flush=True,
        )

    print(f"{args.guides} guides × {args.per_guide} products; history filled in {setup:.1f} s")
    step("first")
    step("unchanged")
    # 1% of the products move from band $ to $$$ at every retailer
    moved = rng.sample(range(args.products), max(1, args.products // 100))
    bump = {
        p * len(RETAILERS) + r + 1: Decimal("999.00") for p in moved for r in range(len(RETAILERS))
    }
    observe(config, now=t + timedelta(hours=1), prices=bump)
    step("1% moved")
    step("force", "--force")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "guides": args.guides,
                    "per_guide": args.per_guide,
                    "products": args.products,
                    "steps": rows,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
