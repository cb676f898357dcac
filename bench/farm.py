# ruff: noqa: B904,E501
"""A loopback shop farm for the performance benchmark: pre-rendered pages served by nginx.

The pages are the simulated shops' own markup (``tracker.shops``: six platform
styles, some ~1 MB Amazon-style pages), rendered once to files and served by nginx
from H loopback addresses (``127.0.1.1`` … ``127.0.1.H``, one port), so every
host is its own politeness unit for tracker *and* for Scrapy (whose per-domain
slots key on the host name). nginx sends ETag and Last-Modified, answers 304 to
conditional requests and serves pre-compressed gzip (``gzip_static``), like the
simulated shops do.

``Farm.mutate(fraction)`` changes the price of a fraction of the listings by
rewriting their files (new size, new mtime: a new ETag), for warm runs.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from tracker.shops import Product, Style
from tracker.shops._pages import PageContext, product_path, theme_for

STYLES = [
    Style.amazon,
    Style.shopify,
    Style.woocommerce,
    Style.bigcommerce,
    Style.magento,
    Style.plain,
]
LOCALES = {Style.woocommerce: ("en-GB", "GBP"), Style.magento: ("de", "EUR")}
PORT = 18080
BRANDS = [
    "Topping",
    "Schiit",
    "FiiO",
    "iFi",
    "SMSL",
    "JDS Labs",
    "Fosi",
    "RME",
    "Drop",
    "Sennheiser",
]


def host_ip(h: int) -> str:
    return f"127.0.1.{h + 1}"


@dataclass(frozen=True, slots=True)
class Listing:
    index: int
    host: int
    style: str
    url: str
    big: bool


def _style_of(host: int) -> Style:
    return STYLES[host % len(STYLES)]


def _product(i: int, rng: random.Random, bump: int = 0, currency: str = "USD") -> Product:
    brand = BRANDS[i % len(BRANDS)]
    cents = rng.randrange(1999, 199999)
    price = Decimal(cents + 100 * bump) / 100
    was = (price * Decimal("1.15")).quantize(Decimal("0.01")) if i % 7 == 0 else None
    return Product(
        f"p{i:06d}",
        f"{brand} Model {i} Headphone Amplifier",
        price,
        currency,
        in_stock=(i % 10 != 3),
        was_price=was,
    )


def _render_one(args: tuple[int, int, bool, str, int]) -> tuple[str, int]:
    i, host, big, root, bump = args
    style = _style_of(host)
    locale, currency = LOCALES.get(style, ("en", "USD"))
    rng = random.Random(i)
    product = _product(i, rng, bump, currency)
    base = f"http://{host_ip(host)}:{PORT}"
    ctx = PageContext(f"Shop {host}", style, locale, base, currency, big)
    path = product_path(style, product)
    html = theme_for(ctx).product(product, path).encode()
    rel = path.lstrip("/")
    if rel.endswith("/"):
        rel += "index.html"
    target = Path(root) / f"h{host}" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(html)
    gz = target.with_name(target.name + ".gz.tmp")
    gz.write_bytes(gzip.compress(html, compresslevel=6, mtime=0))
    # the identity file and its .gz share an mtime; bump it so the ETag always changes
    now = time.time() + bump
    os.utime(tmp, (now, now))
    os.utime(gz, (now, now))
    os.replace(gz, target.with_name(target.name + ".gz"))
    os.replace(tmp, target)
    return path, len(html)


class Farm:
    """N listings over H hosts, pre-rendered under ``root``; ``serve()`` starts nginx."""

    def __init__(self, root: Path, listings: int, hosts: int, big_fraction: float) -> None:
        self.root = root
        self.n = listings
        self.hosts = hosts
        self.big_fraction = big_fraction
        self.www = root / "www"
        self.listings: list[Listing] = []
        self.bytes = 0
        self._bumps: dict[int, int] = {}
        self._nginx: subprocess.Popen[bytes] | None = None
        self.access_log = root / "access.log"

    # -- pages ---------------------------------------------------------------------------

    def _is_big(self, i: int, host: int) -> bool:
        # big pages live on the Amazon-style hosts; spread so about big_fraction of all are big
        amazon_hosts = max(1, len([h for h in range(self.hosts) if _style_of(h) is Style.amazon]))
        share = self.big_fraction * self.hosts / amazon_hosts
        return _style_of(host) is Style.amazon and (i * 7919) % 1000 < share * 1000

    def build(self, workers: int = 2) -> None:
        manifest = self.root / "manifest.json"
        key = {"n": self.n, "hosts": self.hosts, "big": self.big_fraction, "v": 4}
        if manifest.exists():
            data = json.loads(manifest.read_text())
            if data["key"] == key:
                self.listings = [Listing(**d) for d in data["listings"]]
                self.bytes = data["bytes"]
                return
        shutil.rmtree(self.www, ignore_errors=True)
        self.www.mkdir(parents=True)
        for h in range(self.hosts):
            d = self.www / f"h{h}"
            d.mkdir()
            (d / "robots.txt").write_text("User-agent: *\nDisallow: /cart\n")
            (d / "index.html").write_text("<!doctype html><title>home</title><h1>Shop</h1>")
        jobs = []
        for i in range(self.n):
            host = i % self.hosts
            jobs.append((i, host, self._is_big(i, host), str(self.www), 0))
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_render_one, jobs, chunksize=64))
        self.listings = []
        for (i, host, big, _, _), (path, size) in zip(jobs, results, strict=True):
            url = f"http://{host_ip(host)}:{PORT}{path}"
            self.listings.append(Listing(i, host, _style_of(host).value, url, big))
            self.bytes += size
        manifest.write_text(
            json.dumps(
                {"key": key, "bytes": self.bytes, "listings": [asdict(ls) for ls in self.listings]}
            )
        )

    def mutate(self, fraction: float, among: int, seed: int) -> list[int]:
        """Change the price of ``fraction`` of the first ``among`` listings; their indexes."""
        rng = random.Random(seed)
        chosen = rng.sample(range(among), max(1, round(among * fraction)))
        # the pages on disk outlive this process: keep the bumps with them, so that a
        # mutation always moves a price to a value it never had
        bumps_file = self.root / "bumps.json"
        if not self._bumps and bumps_file.exists():
            self._bumps = {int(k): v for k, v in json.loads(bumps_file.read_text()).items()}
        jobs = []
        for i in chosen:
            ls = self.listings[i]
            bump = self._bumps.get(i, 0) + 1
            self._bumps[i] = bump
            jobs.append((i, ls.host, ls.big, str(self.www), bump))
        for job in jobs:
            _render_one(job)
        bumps_file.write_text(json.dumps(self._bumps))
        return chosen

    # -- server --------------------------------------------------------------------------

    def serve(self) -> None:
        conf = self.root / "nginx.conf"
        servers = "\n".join(
            f"  server {{ listen {host_ip(h)}:{PORT} reuseport; root {self.www}/h{h}; }}"
            for h in range(self.hosts)
        )
        conf.write_text(f"""
worker_processes 1;
daemon off;
master_process on;
pid {self.root}/nginx.pid;
error_log {self.root}/nginx-error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
  # when each request ended, and how long it took: the span of a contender's requests
  log_format span '$msec $request_time';
  access_log {self.access_log} span;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 10000000; keepalive_timeout 300;
  gzip_static on; gzip_vary on;
  types {{ text/html html; text/plain txt; }}
  default_type text/html;
  charset utf-8; charset_types text/html text/plain;
  client_body_temp_path {self.root}/tmp; proxy_temp_path {self.root}/tmp;
  fastcgi_temp_path {self.root}/tmp; uwsgi_temp_path {self.root}/tmp; scgi_temp_path {self.root}/tmp;
{servers}
}}
""")
        (self.root / "tmp").mkdir(exist_ok=True)
        self._nginx = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host_ip(self.hosts - 1), PORT), timeout=0.2):
                    return
            except OSError:
                if self._nginx.poll() is not None:
                    raise RuntimeError(f"nginx failed: {self._nginx.stderr.read().decode()}")  # type: ignore[union-attr]
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def log_mark(self) -> int:
        """Where the access log ends now (see ``requests_since``)."""
        try:
            return self.access_log.stat().st_size
        except OSError:
            return 0

    def requests_since(self, mark: int) -> tuple[int, float | None]:
        """The requests logged after ``mark`` (``log_mark``): how many, and the time from
        the start of the first to the end of the last (None without any)."""
        try:
            with open(self.access_log, "rb") as f:
                f.seek(mark)
                lines = f.read().split(b"\n")
        except OSError:
            return 0, None
        spans = [(float(e) - float(d), float(e)) for e, d in (ln.split() for ln in lines if ln)]
        if not spans:
            return 0, None
        return len(spans), max(e for _, e in spans) - min(s for s, _ in spans)

    def server_cpu(self) -> float:
        """CPU seconds used so far by nginx (master and workers)."""
        if self._nginx is None:
            return 0.0
        pids = [self._nginx.pid]
        try:
            children = Path(f"/proc/{self._nginx.pid}/task/{self._nginx.pid}/children").read_text()
            pids += [int(p) for p in children.split()]
        except OSError:
            pass
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except OSError:
                pass
        return total

    def stop(self) -> None:
        if self._nginx is not None and self._nginx.poll() is None:
            self._nginx.send_signal(signal.SIGQUIT)
            try:
                self._nginx.wait(5)
            except subprocess.TimeoutExpired:
                self._nginx.kill()
                self._nginx.wait()
        self._nginx = None
