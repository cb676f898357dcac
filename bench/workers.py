"""Throughput of 1, 2, 4 and 8 workers sharing one PostgreSQL database.

Each worker is a `tracker run --due` process with a few request slots
(--concurrency). The simulated shops serve H hosts x M products on loopback with a
service time; per-host politeness (one request at a time per host, a minimum delay
between request starts) is shared by every worker through the database.
Throughput should grow with workers until the shops' politeness bound
(H x min(1/delay, 1/service) pages/s), and no listing may be fetched twice
(counted at the shops).

Columns: seconds (wall, process start to exit), fetching (first to last request
at the shops), pages/s (listings / seconds), bound (the shops' politeness bound),
of n (what n workers' request slots allow at most: min(bound, n x concurrency /
service)), host busy (share of the fetching time
the hosts were answering us), cpu s (user+system of all workers).

    eval "$(bash .ci/postgres start)"
    .venv/bin/python bench/workers.py --workers 1,2,4,8 --json bench/results/workers.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.shops import Fault, Product, Shop, ShopFarm, Style  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--products", type=int, default=100, help="per host")
    parser.add_argument("--delay", type=float, default=0.1, help="per_host_delay, seconds")
    parser.add_argument("--service", type=float, default=0.2, help="shop service time, s")
    parser.add_argument("--concurrency", type=int, default=2, help="per worker")
    parser.add_argument(
        "--db",
        default=os.environ.get("TRACKER_TEST_POSTGRES_URL"),
        help="a PostgreSQL URL whose user may create databases",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--timeline", type=Path, help="write every request's times here")
    args = parser.parse_args()
    if not args.db:
        print('no PostgreSQL: pass --db or run: eval "$(bash .ci/postgres start)"', file=sys.stderr)
        return 2
    styles = list(Style)
    shops = [
        Shop(
            f"Host {h}",
            style=styles[h % len(styles)],
            products=[
                Product(f"p{h}-{i}", f"Product {h}-{i}", Decimal(50 + i))
                for i in range(args.products)
            ],
        )
        for h in range(args.hosts)
    ]
    listings = args.hosts * args.products
    # one request at a time per host, starts at least `delay` apart
    per_host = min(1 / args.delay if args.delay else float("inf"), 1 / args.service)
    bound = args.hosts * per_host
    admin = sa.create_engine(args.db, isolation_level="AUTOCOMMIT")
    rows = []
    with ShopFarm(shops) as farm, tempfile.TemporaryDirectory() as tmp:
        for shop in farm.shops:
            shop.set_fault(Fault.slow, delay=args.service)
        for n in [int(x) for x in args.workers.split(",")]:
            name = f"bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = admin.url.set(database=name).render_as_string(hide_password=False)
            config = Path(tmp) / f"config-{n}.toml"
            lines = [
                "[fetch]",
                f"per_host_delay = {args.delay}",
                "per_host_concurrency = 1",
                f"concurrency = {args.concurrency}",
                "retries = 0",
                "shared_politeness = true",
                "[schedule]",
                "claim_batch = 16",
                'interval = "6h"',
                "",
            ]
            config.write_text("\n".join(lines) + "\n" + farm.products_toml())
            env = dict(os.environ, TRACKER_DATABASE_URL=url)
            tracker = [sys.executable, "-m", "tracker", "-q", "--config", str(config)]
            subprocess.run([*tracker, "db", "upgrade"], env=env, check=True, capture_output=True)
            subprocess.run([*tracker, "status"], env=env, capture_output=True)  # syncs listings
            farm.reset_log()
            started = time.monotonic()
            procs = [
                subprocess.Popen(
                    [*tracker, "run", "--due", "--json"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(n)
            ]
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            outputs = [p.communicate(timeout=3600) for p in procs]
            wall = time.monotonic() - started
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
                cpu_after.ru_stime - cpu_before.ru_stime
            )
            checked = sum(json.loads(out)["checked"] for out, _ in outputs if out.strip())
            pages = Counter(
                f"{s.name}{r.path}"
                for s in farm.shops
                for r in s.requests()
                if r.path not in ("/robots.txt", "/")
            )
            duplicates = sum(c - 1 for c in pages.values())
            records = [r for s in farm.shops for r in s.requests() if r.path != "/"]
            first = min((r.started for r in records), default=0.0)
            last = max((r.finished for r in records), default=0.0)
            busy = sum(r.duration for r in records) / (len(farm.shops) * max(last - first, 1e-9))
            if args.timeline:
                args.timeline.write_text(
                    json.dumps(
                        [[r.shop, r.path, r.started - first, r.finished - first] for r in records]
                    )
                )
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            rows.append(
                {
                    "workers": n,
                    "listings": listings,
                    "checked": checked,
                    "seconds": round(wall, 2),
                    "pages_per_s": round(listings / wall, 1),
                    "bound_pages_per_s": round(bound, 1),
                    # what n workers with their request slots could do at most
                    "workers_bound_pages_per_s": round(
                        min(bound, n * args.concurrency / max(args.service, 1e-9)), 1
                    ),
                    "duplicate_fetches": duplicates,
                    "missed": listings - len(pages),
                    "fetching_seconds": round(last - first, 2),
                    "host_busy": round(busy, 2),
                    "worker_cpu_seconds": round(cpu, 2),
                }
            )
    admin.dispose()
    print(
        f"{listings} listings on {args.hosts} hosts; per-host delay {args.delay}s, one request "
        f"at a time per host; shop service time {args.service}s; {args.concurrency} "
        "concurrent requests per worker"
    )
    print(
        f"{'workers':>8} {'seconds':>8} {'fetching':>9} {'pages/s':>8} {'bound':>7} {'of n':>6} "
        f"{'host busy':>9} {'cpu s':>6} {'dupes':>6} {'missed':>7}"
    )
    for r in rows:
        print(
            f"{r['workers']:>8} {r['seconds']:>8} {r['fetching_seconds']:>9} "
            f"{r['pages_per_s']:>8} {r['bound_pages_per_s']:>7} "
            f"{r['workers_bound_pages_per_s']:>6} {r['host_busy']:>9.0%} "
            f"{r['worker_cpu_seconds']:>6} "
            f"{r['duplicate_fetches']:>6} {r['missed']:>7}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r["duplicate_fetches"] == 0 and r["missed"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
