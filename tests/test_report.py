"""The editors' report, from real runs against the simulated shops."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.conftest import FrozenClock, smtp_server
from tracker.config import Config, parse_config
from tracker.demo import demo_config
from tracker.errors import StoreError
from tracker.pipeline import RunSummary, run_once
from tracker.publish import publish
from tracker.report import Report, build_report, render_report, report_json
from tracker.reporting import make_report
from tracker.shops import Fault, ShopFarm, demo_specs
from tracker.store import Store, open_store


@pytest.fixture(scope="module")
def farm() -> Iterator[ShopFarm]:
    with ShopFarm(demo_specs()) as f:
        yield f


@dataclass
class World:
    farm: ShopFarm
    config: Config
    store: Store
    clock: FrozenClock
    dir: Path

    def run(self, hours: float = 6) -> RunSummary:
        self.clock.advance(hours=hours)
        summary = run_once(self.config, store=self.store, now=self.clock)
        publish(self.config, self.store, now=self.clock(), changed=True)
        self.clock.advance(minutes=1)  # reports cover [since, now): the checks are before now
        return summary

    def report(self, **kw: Any) -> Report:
        since = kw.pop("since", self.start)
        return build_report(self.config, self.store, since=since, until=self.clock(), **kw)

    @property
    def start(self) -> Any:
        return self.clock.now.replace(year=2000)

    def guide_md(self) -> str:
        return (self.dir / "site" / "headphone-amplifier.md").read_text()


@pytest.fixture
def world(farm: ShopFarm, tmp_path: Path, clock: FrozenClock, db_url: str) -> Iterator[World]:
    snapshot = {
        (shop.name, sku): (p.price, p.in_stock)
        for shop in farm.shops
        for sku, p in shop.products.items()
    }
    farm.clear_faults()
    text = demo_config(farm, tmp_path / "history.sqlite3").replace(
        "per_host_delay = 0.05", "per_host_delay = 0"
    )
    (tmp_path / "config.toml").write_text(text)
    config = parse_config(text, path=tmp_path / "config.toml")
    with open_store(config.tracker.database) as store:
        yield World(farm, config, store, clock, tmp_path)
    farm.clear_faults()
    for shop in farm.shops:
        for sku, p in shop.products.items():
            p.price, p.in_stock = snapshot[(shop.name, sku)]


def eventful_rounds(w: World) -> None:
    """Round 1 as is; round 2 moves prices and stock, breaks shops, and misplaces a decimal."""
    w.run(hours=0)
    w.farm["TOPPING Direct"].set_price("topping-l50", Decimal("229.00"))
    w.farm["Shopify store"].set_stock("schiit-magni-unity", False)
    w.farm["Big Audio Mart"].set_price("schiit-magni-unity", Decimal("159.00"))
    w.farm["Big Audio Mart"].set_price("topping-l50", Decimal("25.90"))
    w.farm["Amazon-like"].set_fault(Fault.robot_check)
    w.farm["WooCommerce store"].set_fault(Fault.not_found, sku="fiio-k7")
    summary = w.run()
    assert summary.held == 1 and summary.failures == {"blocked": 2, "gone": 1}


def test_every_section_from_real_runs(world: World) -> None:
    eventful_rounds(world)
    r = world.report(charts=True)
    changes = {(c.retailer, c.product_id): (c.old, c.new, c.percent) for c in r.price_changes}
    assert changes == {
        ("TOPPING Direct", "topping-l50"): (Decimal("249.00"), Decimal("229.00"), Decimal("-8.0")),
        ("Big Audio Mart", "schiit-magni-unity"): (
            Decimal("149.00"),
            Decimal("159.00"),
            Decimal("6.7"),
        ),
    }
    assert [(a.retailer, a.old, a.new) for a in r.availability_changes] == [
        ("Shopify store", "InStock", "OutOfStock")
    ]
    assert [(c["product"], c["before"]["band"], c["after"]["band"]) for _, c in r.band_changes] == [
        ("schiit-magni-unity", "$", "$$")
    ]
    assert any(str(w).endswith("headphone-amplifier.md") for g in r.renders for w in g.files)
    assert [(n.product_id, n.price, n.kind) for n in r.new_lows] == [
        ("topping-l50", Decimal("229.00"), "all-time")
    ]
    (held,) = r.quarantined
    assert (held.retailer, held.old_price, held.new_price) == (
        "Big Audio Mart",
        Decimal("259.00"),
        Decimal("25.90"),
    )
    assert "-90%" in held.reason
    failing = {(f.retailer, f.product_id): f for f in r.failing}
    assert set(failing) == {
        ("Amazon-like", "topping-l50"),
        ("Amazon-like", "fiio-k7"),
        ("WooCommerce store", "fiio-k7"),
    }
    blocked = failing[("Amazon-like", "topping-l50")]
    assert blocked.kind == "blocked" and blocked.consecutive == 1
    assert blocked.last_good_price == Decimal("249.00") and blocked.page_saved_at is not None
    assert b"Robot Check" in (world.store.failure_page(blocked.listing_id) or b"")
    assert failing[("WooCommerce store", "fiio-k7")].kind == "gone"
    assert {c.product_id for c in r.charts} >= {"topping-l50", "schiit-magni-unity"}


def test_quarantine_holds_the_price_out_of_guides_until_approved(world: World) -> None:
    eventful_rounds(world)
    # the misplaced $25.90 would be the lowest price: held, it moves nothing
    assert "| TOPPING L50 | $$ |" in world.guide_md()
    assert "[Buy at TOPPING Direct]" in world.guide_md()
    world.run()  # the page still shows it: still held, no second quarantine entry
    assert len(world.store.quarantined()) == 1
    (held,) = world.store.quarantined()
    world.store.decide(held.id, approve=True, now=world.clock())
    publish(world.config, world.store, now=world.clock(), changed=True)
    assert "| TOPPING L50 | $ |" in world.guide_md()
    assert "[Buy at Big Audio Mart]" in world.guide_md()
    assert world.store.quarantined() == []
    with pytest.raises(StoreError, match="already approved"):
        world.store.decide(held.id, approve=False, now=world.clock())


def test_rejected_value_stays_out_and_is_reported_as_failing(world: World) -> None:
    eventful_rounds(world)
    (held,) = world.store.quarantined()
    world.store.decide(held.id, approve=False, now=world.clock())
    summary = world.run()
    assert summary.failures["rejected"] == 1
    assert "| TOPPING L50 | $$ |" in world.guide_md()
    assert any(f.kind == "rejected" for f in world.report().failing)
    # the shop fixes its page: the real price is published again
    world.farm["Big Audio Mart"].set_price("topping-l50", Decimal("259.00"))
    world.run()
    assert not any(f.kind == "rejected" for f in world.report().failing)


def test_since_last_continues_where_the_previous_report_ended(world: World) -> None:
    world.run(hours=0)
    first = make_report(world.config, since_last=True, fmt="json", now=world.clock)
    world.farm["TOPPING Direct"].set_price("topping-l50", Decimal("239.00"))
    world.run()
    second = make_report(world.config, since_last=True, fmt="json", now=world.clock)
    assert second.since == first.until
    data = json.loads(second.text)
    assert [(c["retailer"], c["new"]) for c in data["price_changes"]] == [
        ("TOPPING Direct", "239.00")
    ]
    third = make_report(world.config, since_last=True, fmt="json", now=world.clock)
    assert json.loads(third.text)["price_changes"] == []


def test_stale_listings_are_reported(world: World) -> None:
    world.run(hours=0)
    world.farm["Magento store"].set_fault(Fault.server_error, count=1000)
    world.run(hours=30)
    world.run(hours=30)
    stale = world.report().stale
    assert [(s.retailer, s.product_id) for s in stale] == [("Magento store", "schiit-magni-unity")]


def test_html_report_is_self_contained_and_escapes_scraped_text(world: World) -> None:
    text = (
        (world.dir / "config.toml")
        .read_text()
        .replace('retailer = "TOPPING Direct"', 'retailer = "<script>alert(1)</script><img src=x>"')
        .replace('name = "TOPPING L50"', 'name = "L50 <b onmouseover=alert(1)>"')
    )
    world.config = parse_config(text, path=world.dir / "config.toml")
    eventful_rounds(world)
    html = render_report(world.report(charts=True), world.config, fmt="html")
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;" in html and "<b onmouseover" not in html
    # nothing is loaded from elsewhere: no external stylesheet, image, font or frame
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html, re.I)
    assert not re.search(r"<[^>]*\bsrc=|@import|url\(", html, re.I)
    assert html.count("<svg") >= 2 and "<style>" in html


def test_markdown_csv_and_json_formats(world: World) -> None:
    eventful_rounds(world)
    report = world.report()
    md = render_report(report, world.config, fmt="md")
    assert md.index("## Held for review") < md.index("## Price changes")
    rows = list(csv.reader(io.StringIO(render_report(report, world.config, fmt="csv"))))
    assert rows[0][0] == "section"
    assert {r[0] for r in rows[1:]} >= {"quarantined", "price", "availability", "failing"}
    data = json.loads(render_report(report, world.config, fmt="json"))
    assert data["counts"]["quarantined"] == 1 and data["counts"]["failing"] == 3
    assert data == json.loads(json.dumps(report_json(report)))


class _Capture(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Capture.bodies.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_posts_the_json_report(world: World) -> None:
    eventful_rounds(world)
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        result = make_report(world.config, fmt="md", webhook=url, now=world.clock)
    finally:
        server.shutdown()
        server.server_close()
    assert result.lines == [f"posted to {url} (HTTP 204)"]
    payload = json.loads(_Capture.bodies[-1])
    assert payload["counts"]["quarantined"] == 1


def test_email_goes_through_a_real_smtp_server(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[Message] = []
    with smtp_server(password=b"s3cret-pw", received=received) as port:
        text = (world.dir / "config.toml").read_text() + (
            '\n[report.email]\nhost = "127.0.0.1"\n'
            f'port = {port}\nstarttls = false\nusername = "editor"\n'
            'password_env = "TEST_SMTP_PASSWORD"\nsender = "tracker@example.com"\n'
            'recipients = ["editors@example.com"]\n'
        )
        world.config = parse_config(text, path=world.dir / "config.toml")
        eventful_rounds(world)
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret-pw")
        result = make_report(world.config, fmt="html", email=True, now=world.clock)
    (message,) = received
    assert message["To"] == "editors@example.com"
    assert "1 held for review" in message["Subject"]
    parts = {p.get_content_type(): p.get_payload(decode=True) for p in message.walk()}
    assert b"<svg" in parts["text/html"] and b"## Held for review" in parts["text/plain"]
    assert "s3cret-pw" not in result.text + caplog.text


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="chromium is not installed (.ci/run installs it)"
)
def test_html_report_renders_in_a_real_browser(world: World, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    eventful_rounds(world)
    out = tmp_path / "report.html"
    make_report(world.config, fmt="html", output=out, now=world.clock)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(out.as_uri())
            boxes = [e.bounding_box() for e in page.query_selector_all("svg.chart")]
            width = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert len(boxes) >= 2 and all(b and b["width"] > 200 and b["height"] > 100 for b in boxes)
    assert width <= 400  # readable on a phone: no page-wide horizontal scrolling
    assert (tmp_path / "report.png").stat().st_size > 10_000
