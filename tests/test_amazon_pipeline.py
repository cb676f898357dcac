"""Amazon listings in the product: configuration, runs, guides, ``tracker check``.

Everything runs against ``FakeCreatorsApi`` (and the simulated shops for the page
listings) on loopback, over real sockets, with a real database on each backend;
nothing of ours is mocked.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from tests.conftest import FrozenClock
from tests.conftest import run_tracker as tracker
from tracker.amazon import MAP_REASON, amazon_disclaimer
from tracker.check import amazon_settings, check
from tracker.config import Config, parse_config
from tracker.errors import ConfigError
from tracker.feed import build_feed
from tracker.pipeline import run_due, run_once
from tracker.render import build_view, render_guides
from tracker.shops import FakeCreatorsApi, FakeItem, ShopFarm, demo_specs
from tracker.shops.amazon_api import DEFAULT_CREDENTIAL_ID, DEFAULT_CREDENTIAL_SECRET
from tracker.store import Store, open_store

US = "www.amazon.com"
CA = "www.amazon.ca"
UK = "www.amazon.co.uk"
TAG, CA_TAG = "guide-20", "guide-ca-20"
SECRET_ENV = "TRACKER_TEST_AMAZON_SECRET"
DISCLAIMER = amazon_disclaimer([US])


def asins(n: int) -> list[str]:
    return [f"B0TEST{i:04d}" for i in range(n)]


@pytest.fixture(scope="module")
def farm() -> Iterator[ShopFarm]:
    with ShopFarm(demo_specs()) as f:
        yield f


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCreatorsApi]:
    items = [FakeItem(a, f"Amplifier {i}", Decimal("100.00") + i) for i, a in enumerate(asins(30))]
    with FakeCreatorsApi(items, partner_tags={US: TAG, CA: CA_TAG}) as fake:
        monkeypatch.setenv(SECRET_ENV, DEFAULT_CREDENTIAL_SECRET)
        yield fake


def amazon_table(api: FakeCreatorsApi, **extra: Any) -> str:
    values = {"rate": 1000, "backoff": 0.01, "retries": 2, "timeout": 5} | extra
    lines = [
        "[amazon]",
        f'credential_id = "{DEFAULT_CREDENTIAL_ID}"',
        f'credential_secret_env = "{SECRET_ENV}"',
        'credential_version = "2.1"',
        f'partner_tags = {{ "{US}" = "{TAG}", "{CA}" = "{CA_TAG}" }}',
        f'api_url = "{api.base_url}"',
        f'token_url = "{api.token_url("2.1")}"',
        *(f"{k} = {json.dumps(v)}" for k, v in values.items()),
        "",
    ]
    return "\n".join(lines)


def amazon_listing(asin: str, retailer: str = "Amazon", *, market: str = US) -> str:
    return (
        f'  [[products.listings]]\n  retailer = "{retailer}"\n  source = "amazon"\n'
        f'  url = "https://{market}/dp/{asin}"\n'
    )


def page_listing(url: str, retailer: str) -> str:
    return f'  [[products.listings]]\n  retailer = "{retailer}"\n  url = "{url}"\n'


FETCH = "[fetch]\nper_host_delay = 0\nbackoff = 0.01\n"
GUIDE = """
[[guides]]
id = "amps"
products = ["l50", "magni"]
currency = "USD"
template = "quick-picks"
output = ["out/amps.html", "out/amps.md"]
bands.USD = { limits = [150, 400], labels = ["$", "$$", "$$$"] }
"""


class World:
    """A configuration over the fake API and the shops, a store, a clock."""

    def __init__(self, tmp: Path, text: str, store: Store, clock: FrozenClock) -> None:
        self.dir = tmp
        self.path = tmp / "config.toml"
        self.path.write_text(text)
        self.config: Config = parse_config(text, path=self.path)
        self.store = store
        self.clock = clock

    def run(self, **kw: Any) -> Any:
        return run_once(self.config, store=self.store, now=self.clock, **kw)

    def render(self) -> tuple[str, str]:
        render_guides(self.config, self.store, now=self.clock(), force=True)
        return (
            (self.dir / "out" / "amps.html").read_text(),
            (self.dir / "out" / "amps.md").read_text(),
        )


def guide_world(
    tmp_path: Path, db_url: str, clock: FrozenClock, api: FakeCreatorsApi, farm: ShopFarm
) -> Iterator[World]:
    shop = farm["TOPPING Direct"]
    text = (
        FETCH
        + amazon_table(api)
        + GUIDE
        + '[[products]]\nid = "l50"\nname = "TOPPING L50"\n'
        + page_listing(shop.url("topping-l50"), "TOPPING Direct")
        + amazon_listing("B0TEST0001")
        + '[[products]]\nid = "magni"\nname = "Schiit Magni Unity"\n'
        + page_listing(farm["Shopify store"].url("schiit-magni-unity"), "Shopify store")
        + amazon_listing("B0TEST0002")
    )
    with open_store(db_url) as store:
        yield World(tmp_path, text, store, clock)


@pytest.fixture
def world(
    tmp_path: Path, db_url: str, clock: FrozenClock, api: FakeCreatorsApi, farm: ShopFarm
) -> Iterator[World]:
    farm.clear_faults()
    yield from guide_world(tmp_path, db_url, clock, api, farm)


def detail_url(asin: str, tag: str = TAG, market: str = US) -> str:
    return f"https://{market}/dp/{asin}?tag={tag}&linkCode=ogi&th=1&psc=1"


def latest(store: Store, product_id: str) -> dict[str, tuple[Decimal | None, str | None]]:
    """retailer -> (price, availability) of the newest state."""
    return {
        row.retailer: (row.price, row.availability.value if row.availability else None)
        for row in store.history(product_id)
    }


# -- runs ------------------------------------------------------------------------------------


def test_a_run_prices_amazon_listings_through_the_api(
    tmp_path: Path, db_url: str, clock: FrozenClock, api: FakeCreatorsApi, farm: ShopFarm
) -> None:
    farm.clear_faults()
    shop = farm["TOPPING Direct"]
    text = (
        FETCH
        + amazon_table(api)
        + '[[products]]\nid = "many"\nname = "Many amps"\n'
        + "".join(amazon_listing(a, f"Amazon {i}") for i, a in enumerate(asins(25)))
        + page_listing(shop.url("topping-l50"), "TOPPING Direct")
        + page_listing(farm["Big Audio Mart"].url("topping-l50"), "Big Audio Mart")
    )
    with open_store(db_url) as store:
        w = World(tmp_path, text, store, clock)
        before = len(shop.requests())
        summary = w.run()
        assert summary.failed == 0, summary.failures
        assert summary.new == 27
        # 25 ASINs, 10 a request: 3 getItems requests and one token
        requests = api.get_items_requests
        assert [len(r.json["itemIds"]) for r in requests] == [10, 10, 5]
        assert {r.json["partnerTag"] for r in requests} == {TAG}
        assert {r.headers["x-marketplace"] for r in requests} == {US}
        assert len(api.token_requests) == 1
        seen = latest(store, "many")
        for i, asin in enumerate(asins(25)):
            assert seen[f"Amazon {i}"] == (Decimal("100.00") + i, "InStock"), asin
        # the page listings were fetched as always, the Amazon ones never
        assert seen["TOPPING Direct"] == (shop.products["topping-l50"].price, "InStock")
        assert len(shop.requests()) > before
        assert not any("/dp/" in r.path for s in farm.shops for r in s.requests())

        # a second run: the changes come through, the unchanged states are extended
        api.set_item(asins(25)[3], price=Decimal("88.00"))
        api.set_item(asins(25)[4], availability="OUT_OF_STOCK")
        clock.advance(hours=6)
        summary = w.run()
        assert (summary.changed, summary.unchanged, summary.failed) == (2, 25, 0)
        seen = latest(store, "many")
        assert seen["Amazon 3"] == (Decimal("88.00"), "InStock")
        assert seen["Amazon 4"][1] == "OutOfStock"


def test_marketplaces_are_asked_separately(
    tmp_path: Path, db_url: str, clock: FrozenClock, api: FakeCreatorsApi
) -> None:
    text = (
        amazon_table(api)
        + '[[products]]\nid = "p"\nname = "P"\n'
        + amazon_listing("B0TEST0001", "Amazon US")
        + amazon_listing("B0TEST0002", "Amazon CA", market=CA)
        + '  [[products.listings]]\n  retailer = "Amazon CA 2"\n  source = "amazon"\n'
        '  asin = "b0test0003"\n  marketplace = "amazon.ca"\n'
    )
    with open_store(db_url) as store:
        w = World(tmp_path, text, store, clock)
        assert w.run().new == 3
    markets = sorted(
        (r.headers["x-marketplace"], r.json["partnerTag"], tuple(r.json["itemIds"]))
        for r in api.get_items_requests
    )
    assert markets == [
        (CA, CA_TAG, ("B0TEST0002", "B0TEST0003")),
        (US, TAG, ("B0TEST0001",)),
    ]


def test_an_item_error_fails_that_listing_alone(world: World, api: FakeCreatorsApi) -> None:
    api.set_item("B0TEST0001", accessible=False)
    summary = world.run()
    assert summary.failures == {"amazon_item_error": 1}
    assert summary.new == 3  # the other ASIN of the same request too
    assert len(api.get_items_requests) == 1
    failing = world.store.failing()
    assert [(f.product_id, f.kind) for f in failing] == [("l50", "amazon_item_error")]
    assert "ItemNotAccessible" in (failing[0].error or "")
    assert latest(world.store, "magni")["Amazon"] == (Decimal("102.00"), "InStock")
    # it recovers on its own at the next run
    api.set_item("B0TEST0001", accessible=True)
    world.clock.advance(hours=1)
    assert world.run().failed == 0
    assert world.store.failing() == []


def test_a_whole_api_failure_leaves_the_page_listings_alone(
    world: World, api: FakeCreatorsApi
) -> None:
    api.throttle(10, retry_after=600)  # longer than retry_after_cap: no waiting
    summary = world.run()
    assert summary.failures == {"amazon_throttled": 2}
    assert summary.new == 2


def test_wrong_or_missing_credentials_fail_as_amazon_auth(
    world: World, api: FakeCreatorsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")
    config = parse_config(world.path.read_text(), path=world.path)
    summary = run_once(config, store=world.store, now=world.clock)
    assert summary.failures == {"amazon_auth": 2} and summary.new == 2
    assert len(api.token_requests) == 1 and api.get_items_requests == []
    failing = world.store.failing()
    assert {f.kind for f in failing} == {"amazon_auth"}
    assert SECRET_ENV in (failing[0].error or "")
    assert "not-the-secret" not in (failing[0].error or "")

    monkeypatch.delenv(SECRET_ENV)
    api.reset_log()
    config = parse_config(world.path.read_text(), path=world.path)  # loads without the secret
    world.clock.advance(hours=1)
    summary = run_once(config, store=world.store, now=world.clock)
    assert summary.failures == {"amazon_auth": 2}
    failing = world.store.failing()
    assert all(f"{SECRET_ENV} is not set" in (f.error or "") for f in failing)
    assert api.requests == []


def test_map_shows_no_price_but_keeps_the_availability(world: World, api: FakeCreatorsApi) -> None:
    api.set_item("B0TEST0001", price=Decimal("9.99"), violates_map=True)
    api.set_item("B0TEST0002", availability="OUT_OF_STOCK")  # no other Amazon price shown
    summary = world.run()
    assert summary.failed == 0
    assert latest(world.store, "l50")["Amazon"] == (None, "InStock")
    html, md = world.render()
    view = build_view(world.config, world.config.guides[0], world.store, now=world.clock())
    l50 = view.products[0]
    assert l50.best is not None and l50.best.listing.retailer == "TOPPING Direct"
    assert "9.99" not in html and "9.99" not in md
    assert not any(v.current for v in l50.listings if v.listing.retailer == "Amazon")
    # nothing Amazon-priced is shown, so no Amazon disclaimer either
    assert DISCLAIMER not in html
    [report] = check(["B0TEST0001"], config=world.config)
    assert (report.status, report.as_json()["price"], report.as_json()["error"]) == (
        "no_price",
        None,
        MAP_REASON,
    )


# -- guides ------------------------------------------------------------------------------------


def test_the_buy_link_is_amazons_detail_page_url(world: World, api: FakeCreatorsApi) -> None:
    api.set_item("B0TEST0001", price=Decimal("199.00"))  # cheaper than TOPPING Direct
    assert world.run().failed == 0
    link = detail_url("B0TEST0001")
    html, md = world.render()
    assert f'href="{escape(link)}"' in html and "Buy at Amazon" in html
    assert f"[Buy at Amazon](<{link}>)" in md
    # Amazon's disclaimer beside the "as of" stamp, in both formats
    assert "accurate as of" in html and f'<p class="amazon-disclaimer">{DISCLAIMER}</p>' in html
    assert f"*{DISCLAIMER}*" in md  # nothing in it needs Markdown escaping
    feed = build_feed(world.config, world.store, now=world.clock())
    best = feed["guides"][0]["products"][0]["best_listing"]
    assert best == {"retailer": "Amazon", "url": "https://www.amazon.com/dp/B0TEST0001"} | {
        "affiliate_url": link
    }


def test_no_amazon_disclaimer_without_an_amazon_price(world: World, api: FakeCreatorsApi) -> None:
    api.set_item("B0TEST0001", availability="OUT_OF_STOCK")
    api.set_item("B0TEST0002", availability="OUT_OF_STOCK")
    world.run()
    html, md = world.render()
    # the shops' prices are shown; Amazon's out-of-stock is not what readers see
    assert "amazon-disclaimer" not in html and "Amazon.com" not in md
    assert "Buy at TOPPING Direct" in html and "Buy at Shopify store" in html
    # an Amazon price behind what is shown brings the disclaimer back
    api.set_item("B0TEST0002", availability="IN_STOCK")
    world.clock.advance(hours=1)
    world.run()
    html, md = world.render()
    assert DISCLAIMER in html and DISCLAIMER in md


def test_an_amazon_price_older_than_24_hours_is_not_shown(
    world: World, api: FakeCreatorsApi, farm: ShopFarm
) -> None:
    api.set_item("B0TEST0001", price=Decimal("99.00"))  # band "$", the cheapest
    guide = world.config.guides[0]
    assert guide.max_age_for("Amazon") == timedelta(hours=24)  # the default for Amazon
    assert guide.max_age_for("TOPPING Direct") == timedelta(hours=72)
    assert world.run().failed == 0
    start = world.clock()

    def shown() -> tuple[str | None, str | None, bool]:
        view = build_view(world.config, guide, world.store, now=world.clock())
        l50 = view.products[0]
        return (
            l50.band,
            l50.best.listing.retailer if l50.best else None,
            bool(view.amazon_disclaimer),
        )

    world.clock.now = start + timedelta(hours=23)
    assert shown() == ("$", "Amazon", True)
    html, _ = world.render()
    assert detail_url("B0TEST0001").replace("&", "&amp;") in html
    world.clock.now = start + timedelta(hours=25)
    # the 25-hour-old Amazon price is gone; the page price (72 h) is still current
    assert shown() == ("$$", "TOPPING Direct", False)
    html, md = world.render()
    assert "99.00" not in html and "B0TEST0001" not in html and "amazon-disclaimer" not in html
    assert "B0TEST0001" not in md and DISCLAIMER not in md
    feed = build_feed(world.config, world.store, now=world.clock())
    amazon = next(
        x for x in feed["guides"][0]["products"][0]["listings"] if x["retailer"] == "Amazon"
    )
    assert amazon["stale"] is True and amazon["price"] is None


def test_max_age_for_amazon_retailers(caplog: pytest.LogCaptureFixture) -> None:
    base = (
        GUIDE
        + '[[products]]\nid = "l50"\nname = "L50"\n'
        + amazon_listing("B0TEST0001")
        + page_listing("https://shop.example/l50", "Shop")
        + '[[products]]\nid = "magni"\nname = "Magni"\n'
    )
    guide = parse_config(base).guides[0]
    assert guide.max_age_for("amazon") == timedelta(hours=24)
    assert guide.max_age_for("Shop") == timedelta(hours=72)
    # a key named after the retailer wins; a shorter default stays shorter
    explicit = base.replace('currency = "USD"', 'currency = "USD"\nmax_age = { amazon = "12h" }')
    assert parse_config(explicit).guides[0].max_age_for("Amazon") == timedelta(hours=12)
    short = base.replace('currency = "USD"', 'currency = "USD"\nmax_age = { default = "6h" }')
    assert parse_config(short).guides[0].max_age_for("Amazon") == timedelta(hours=6)
    longer = base.replace('currency = "USD"', 'currency = "USD"\nmax_age = { Amazon = "48h" }')
    with caplog.at_level(logging.WARNING, logger="tracker.config"):
        assert parse_config(longer).guides[0].max_age_for("Amazon") == timedelta(hours=48)
    assert "guides[0].max_age.Amazon" in caplog.text and "24 hours" in caplog.text


def test_render_and_report_work_without_the_secret(
    world: World, api: FakeCreatorsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.run().failed == 0
    monkeypatch.delenv(SECRET_ENV)
    env = dict(os.environ, TRACKER_CONFIG=str(world.path))
    for args in (["render", "--force"], ["report", "--format", "json"], ["status"]):
        done = subprocess.run(
            [sys.executable, "-m", "tracker", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode in (0, 1), (args, done.stderr)
        assert "configuration error" not in done.stderr, args
    assert (world.dir / "out" / "amps.html").exists()


# -- claims, leases, stops -------------------------------------------------------------------


def test_claimed_batches_with_amazon_listings_are_each_checked_once(
    tmp_path: Path, db_url: str, clock: FrozenClock, api: FakeCreatorsApi, farm: ShopFarm
) -> None:
    farm.clear_faults()
    text = (
        FETCH
        + "[schedule]\nclaim_batch = 4\n"
        + amazon_table(api)
        + '[[products]]\nid = "many"\nname = "Many"\n'
        + "".join(amazon_listing(a, f"Amazon {i}") for i, a in enumerate(asins(23)))
        + page_listing(farm["TOPPING Direct"].url("topping-l50"), "TOPPING Direct")
        + page_listing(farm["Big Audio Mart"].url("topping-l50"), "Big Audio Mart")
    )
    with open_store(db_url) as store:
        w = World(tmp_path, text, store, clock)
        summary = run_due(w.config, store=store, now=clock, owner="worker-1")
        assert (summary.new, summary.failed) == (25, 0)
        asked = [a for r in api.get_items_requests for a in r.json["itemIds"]]
        assert sorted(asked) == asins(23)  # each ASIN once
        states = store.listing_states()
        assert all(st.lease_owner is None and st.next_due_at for st in states.values())
        assert run_due(w.config, store=store, now=clock, owner="worker-2").checked == 0


def test_a_stop_leaves_unpriced_amazon_listings_to_the_next_run(
    tmp_path: Path, db_url: str, clock: FrozenClock, api: FakeCreatorsApi
) -> None:
    text = (
        amazon_table(api)
        + '[[products]]\nid = "many"\nname = "Many"\n'
        + "".join(amazon_listing(a, f"Amazon {i}") for i, a in enumerate(asins(12)))
    )
    with open_store(db_url) as store:
        w = World(tmp_path, text, store, clock)
        stop = threading.Event()
        stop.set()
        summary = run_due(w.config, store=store, now=clock, owner="w1", stop=stop)
        assert summary.checked == 0 and api.get_items_requests == []
        # a stop while the first request waits (throttled, 2 s): its 10 listings are
        # recorded, the 2 left are not asked for and their leases go back at once
        stop.clear()
        api.throttle(1, retry_after=2)
        timer = threading.Timer(0.5, stop.set)
        timer.start()
        try:
            summary = run_due(w.config, store=store, now=clock, owner="w2", stop=stop)
        finally:
            timer.cancel()
        assert (summary.new, summary.stopped) == (10, True)
        assert [len(r.json["itemIds"]) for r in api.get_items_requests] == [10, 10]
        summary = run_due(w.config, store=store, now=clock, owner="w3")
        assert summary.new == 2


# -- tracker check -----------------------------------------------------------------------------


def test_check_json_on_an_asin_with_credentials(
    tmp_path: Path, api: FakeCreatorsApi, farm: ShopFarm
) -> None:
    farm.clear_faults()
    path = tmp_path / "config.toml"
    path.write_text(FETCH + amazon_table(api))
    inputs = [
        "B0TEST0002",
        farm["TOPPING Direct"].url("topping-l50"),
        f"https://{CA}/Some-Amp/dp/b0test0003/ref=sr_1_1",
        "B0NOSUCH00",
    ]
    done = tracker("--config", str(path), "check", "--json", *inputs, env=dict(os.environ))
    assert done.returncode == 1, done.stderr  # the unknown ASIN
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [x["input"] for x in lines] == inputs
    assert [x["status"] for x in lines] == ["ok", "ok", "ok", "error"]
    assert (lines[0]["price"], lines[0]["currency"], lines[0]["availability"]) == (
        "102.00",
        "USD",
        "InStock",
    )
    assert lines[0]["method"] == "amazon-api" and lines[0]["title"] == "Amplifier 2"
    assert lines[1]["method"] != "amazon-api"
    assert lines[2]["price"] == "103.00"
    assert lines[3]["error"].startswith("amazon_item_error: InvalidParameterValue")
    # one request per marketplace, never a fetch of Amazon's page
    assert sorted(r.headers["x-marketplace"] for r in api.get_items_requests) == [CA, US]


def test_check_json_on_an_asin_without_credentials(tmp_path: Path, farm: ShopFarm) -> None:
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    inputs = ["B0TEST0002", "https://www.amazon.com/dp/B0TEST0002", str(tmp_path / "nope.html")]
    # no [amazon] at all (and no configuration file: bare ASINs and files need none)
    done = tracker(
        "check", "--json", inputs[0], inputs[2], env=env | {"TRACKER_CONFIG": ""}, cwd=tmp_path
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [x["status"] for x in lines] == ["error", "error"]
    assert "[amazon]" in lines[0]["error"] and "TRACKER_AMAZON_SECRET" in lines[0]["error"]
    # [amazon] configured but its secret not set
    path = tmp_path / "config.toml"
    path.write_text(
        "[amazon]\n"
        'credential_id = "id"\n'
        f'credential_secret_env = "{SECRET_ENV}"\n'
        'credential_version = "2.1"\n'
        f'partner_tags = {{ "{US}" = "{TAG}" }}\n'
    )
    done = tracker("--config", str(path), "check", "--json", *inputs, env=env)
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [x["input"] for x in lines] == inputs
    assert [x["status"] for x in lines] == ["error", "error", "error"]
    for line in lines[:2]:
        assert f"{SECRET_ENV} is not set" in line["error"], line
    # an Amazon page that is no product page is not fetched either
    [report] = check(["https://www.amazon.com/s?k=amp"], config=parse_config(path.read_text()))
    assert report.status == "error" and "/dp/ASIN" in (report.error or "")


# -- configuration ---------------------------------------------------------------------------

LISTING = '[[products]]\nid = "p"\nname = "P"\n[[products.listings]]\nretailer = "Amazon"\n'


@pytest.mark.parametrize(
    ("listing", "message"),
    [
        (
            'url = "https://shop.example/p"\nsource = "api"\n',
            'products[0].listings[0].source: must be "page" or "amazon"',
        ),
        (
            'source = "amazon"\nasin = "B0SHORT"\nmarketplace = "www.amazon.com"\n',
            "products[0].listings[0].asin: must be an ASIN",
        ),
        (
            'source = "amazon"\nasin = "B0TEST0001"\nmarketplace = "www.ebay.com"\n',
            "products[0].listings[0].marketplace: 'www.ebay.com' is not an Amazon marketplace",
        ),
        (
            'source = "amazon"\nurl = "https://amzn.to/3xYz"\n',
            'products[0].listings[0].asin: is required with source = "amazon"',
        ),
        (
            'source = "amazon"\nasin = "B0TEST0001"\n',
            'products[0].listings[0].marketplace: is required with source = "amazon"',
        ),
        (
            'url = "https://shop.example/p"\nasin = "B0TEST0001"\n',
            'products[0].listings[0].asin: only applies with source = "amazon"',
        ),
        (
            'source = "amazon"\nurl = "https://www.amazon.de/dp/B0TEST0001"\n',
            "products[0].listings[0].marketplace: no partner tag for www.amazon.de",
        ),
        (
            'source = "amazon"\nurl = "https://www.amazon.com/dp/B0TEST0001"\ncolour = 1\n',
            "products[0].listings[0].colour: unknown key",
        ),
    ],
)
def test_listing_errors_name_the_key_path(listing: str, message: str) -> None:
    text = (
        '[amazon]\ncredential_id = "id"\ncredential_version = "2.1"\n'
        'partner_tags = { "www.amazon.com" = "x-20" }\n' + LISTING + listing
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert message in str(info.value)


def test_amazon_listings_read_their_asin_and_marketplace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRACKER_AMAZON_SECRET", raising=False)
    config = parse_config(
        '[amazon]\ncredential_id = "id"\ncredential_version = "2.2"\n'
        'partner_tags = { "amazon.co.uk" = "x-21" }\n'
        + LISTING
        + 'source = "amazon"\nurl = "https://www.amazon.co.uk/Amp-Slug/dp/b0test0001/ref=x"\n'
        + '[[products.listings]]\nretailer = "Amazon 2"\nsource = "amazon"\n'
        + 'asin = "B0TEST0002"\nmarketplace = "amazon.co.uk"\n'
    )
    one, two = config.products[0].listings
    assert (one.source, one.asin, one.marketplace) == ("amazon", "B0TEST0001", UK)
    assert (two.asin, two.marketplace, two.url) == ("B0TEST0002", UK, f"https://{UK}/dp/B0TEST0002")
    # the secret is not needed to read the configuration, only to use the API
    assert config.amazon is not None and config.amazon.credential_secret == ""
    with pytest.raises(ConfigError, match="TRACKER_AMAZON_SECRET is not set"):
        amazon_settings(config)
    monkeypatch.setenv("TRACKER_AMAZON_SECRET", "s3cret")
    assert amazon_settings(config).credential_secret == "s3cret"
    assert "s3cret" not in repr(amazon_settings(config))


def test_amazon_settings_without_amazon_table_says_how_to_configure() -> None:
    with pytest.raises(ConfigError, match=r"add an \[amazon\] table"):
        amazon_settings(parse_config(""))


def test_a_page_sourced_amazon_url_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tracker.config"):
        config = parse_config(LISTING + 'url = "https://www.amazon.com/dp/B0TEST0001"\n')
    assert config.products[0].listings[0].source == "page"
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.getMessage().startswith("products[0].listings[0].url: an Amazon page")
    assert 'source = "amazon"' in record.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tracker.config"):
        parse_config(LISTING + 'url = "https://amazon.example/dp/B0TEST0001"\n')
        parse_config(
            '[amazon]\ncredential_id = "id"\ncredential_version = "2.1"\n'
            'partner_tags = { "www.amazon.com" = "x-20" }\n'
            + LISTING
            + 'source = "amazon"\nurl = "https://www.amazon.com/dp/B0TEST0001"\n'
        )
    assert caplog.records == []


def test_amazon_listings_without_credentials_are_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="tracker.config"):
        parse_config(LISTING + 'source = "amazon"\nurl = "https://www.amazon.com/dp/B0TEST0001"\n')
    assert "products[0].listings[0].source" in caplog.text and "[amazon]" in caplog.text


def test_the_committed_sample_prices_amazon_through_the_api() -> None:
    config = parse_config(
        (Path(__file__).resolve().parents[1] / "config.toml").read_text(),
        path=Path(__file__).resolve().parents[1] / "config.toml",
    )
    amazon = [x for _, x in config.iter_listings() if x.retailer == "Amazon"]
    assert amazon and all(x.is_amazon and x.asin and x.marketplace == US for x in amazon)
    assert config.amazon is not None and config.amazon.partner_tag(US)
    assert config.guides[0].max_age_for("Amazon") <= timedelta(hours=24)
