"""``tracker demo``: the whole pipeline, offline, against the simulated shops.

The demo starts the simulated shops and a fake Amazon Creators API on loopback,
writes the configuration it uses into the output folder, and runs several rounds
six hours apart (simulated time) in which prices and stock change and shops
misbehave. The "Amazon-like" listings are priced through the Creators API path
(``source = "amazon"``), as real Amazon listings are. It leaves a real SQLite
history behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tracker.config import Config, load_config
from tracker.errors import TrackerError
from tracker.feed import schema_text
from tracker.pipeline import Clock, run_once, utc_now
from tracker.progress import RunProgress, history_table
from tracker.publish import publish
from tracker.render import atomic_write, build_view, shown_bands
from tracker.report import build_report, render_report, write_failing_pages
from tracker.shops import FakeCreatorsApi, FakeItem, Fault, ShopFarm, demo_specs
from tracker.store import Store, open_store

__all__ = ["DEMO_ASINS", "ROUND_HOURS", "SCENARIO", "demo_api", "demo_config", "run_demo"]

ROUND_HOURS = 6

# The shop whose listings are Amazon's: priced through the (fake) Creators API
AMAZON_SHOP = "Amazon-like"
DEMO_ASINS = {"topping-l50": "B0DEMOL500", "fiio-k7": "B0DEMOK700"}  # sku -> ASIN
DEMO_MARKETPLACE = "www.amazon.com"
DEMO_PARTNER_TAG = "trackerdemo-20"
DEMO_SECRET_ENV = "TRACKER_DEMO_AMAZON_SECRET"  # set by the demo for its own process only

# (product id, name, [(shop name, sku)])
DEMO_PRODUCTS = (
    (
        "topping-l50",
        "TOPPING L50",
        [
            ("TOPPING Direct", "topping-l50"),
            ("Big Audio Mart", "topping-l50"),
            ("Amazon-like", "topping-l50"),
        ],
    ),
    (
        "schiit-magni-unity",
        "Schiit Magni Unity",
        [
            ("Big Audio Mart", "schiit-magni-unity"),
            ("Shopify store", "schiit-magni-unity"),
            ("Magento store", "schiit-magni-unity"),
        ],
    ),
    (
        "fiio-k7",
        "FiiO K7",
        [("Amazon-like", "fiio-k7"), ("WooCommerce store", "fiio-k7")],
    ),
)


EDITORIAL = {
    "topping-l50": ("Vanishingly low noise and distortion", "No balanced input"),
    "schiit-magni-unity": ("Plenty of power for the price", "Runs warm"),
}


@dataclass(frozen=True, slots=True)
class Round:
    description: str
    change: Callable[[ShopFarm, FakeCreatorsApi], None]


def _round2(farm: ShopFarm, api: FakeCreatorsApi) -> None:
    farm["TOPPING Direct"].set_price("topping-l50", Decimal("229.00"))
    farm["Shopify store"].set_stock("schiit-magni-unity", False)
    api.set_item(DEMO_ASINS["fiio-k7"], price=Decimal("189.99"))
    api.throttle(1, retry_after=1)


def _round3(farm: ShopFarm, api: FakeCreatorsApi) -> None:
    api.set_item(DEMO_ASINS["fiio-k7"], accessible=False)
    api.set_item(DEMO_ASINS["topping-l50"], availability="OUT_OF_STOCK")
    farm["Big Audio Mart"].set_price("schiit-magni-unity", Decimal("159.00"))
    farm["Big Audio Mart"].set_price("topping-l50", Decimal("25.90"))


def _round4(farm: ShopFarm, api: FakeCreatorsApi) -> None:
    api.set_item(DEMO_ASINS["fiio-k7"], accessible=True)
    api.set_item(DEMO_ASINS["topping-l50"], availability="IN_STOCK", price=Decimal("239.00"))
    farm["Shopify store"].set_stock("schiit-magni-unity", True)
    farm["Shopify store"].set_price("schiit-magni-unity", Decimal("139.00"))
    farm["WooCommerce store"].set_fault(Fault.not_found, sku="fiio-k7")


def _later(farm: ShopFarm, api: FakeCreatorsApi) -> None:
    shop = farm["TOPPING Direct"]
    price = shop.products["topping-l50"].price
    shop.set_price("topping-l50", Decimal("249.00") if price < 240 else Decimal("229.00"))


SCENARIO = (
    Round(
        "first check of every listing (the Amazon-like ones through the Creators API)",
        lambda farm, api: None,
    ),
    Round(
        "TOPPING Direct cuts the L50 to $229; the Shopify store sells out of the Magni Unity; "
        "Amazon cuts the FiiO K7 to $189.99; the Creators API throttles once "
        "(429, retryAfterSeconds 1)",
        _round2,
    ),
    Round(
        "Amazon stops serving the FiiO K7 through the API (ItemNotAccessible: that listing "
        "alone fails) and sells out of the L50; Big Audio Mart raises the Magni Unity to $159 "
        "and shows the L50 at $25.90 (a misplaced decimal point: held for review)",
        _round3,
    ),
    Round(
        "Amazon serves the FiiO K7 again and restocks the L50 at $239; the Shopify store "
        "restocks the Magni Unity at $139; the WooCommerce store's FiiO K7 page is gone (404)",
        _round4,
    ),
)
LATER = Round("TOPPING Direct moves the L50 between $229 and $249", _later)


def demo_api(farm: ShopFarm, *, secret: str | None = None) -> FakeCreatorsApi:
    """The fake Creators API, selling what the Amazon-like shop sells, at its prices."""
    shop = farm[AMAZON_SHOP]
    items = []
    for sku, asin in DEMO_ASINS.items():
        product = shop.products[sku]
        items.append(
            FakeItem(
                asin,
                title=product.title,
                price=product.price,
                currency=product.currency,
                availability="IN_STOCK" if product.in_stock else "OUT_OF_STOCK",
            )
        )
    return FakeCreatorsApi(
        items,
        credential_secret=secret or secrets.token_urlsafe(24),
        partner_tags={DEMO_MARKETPLACE: DEMO_PARTNER_TAG},
    )


def demo_config(farm: ShopFarm, database: Path, api: FakeCreatorsApi | None = None) -> str:
    """The configuration the demo runs with (the shops' ports change every run).

    With ``api`` (the fake Creators API), the Amazon-like listings are priced through
    it (``source = "amazon"``); its secret is not written: the demo puts it in
    ``$TRACKER_DEMO_AMAZON_SECRET`` for its own process. Without, they are pages.
    """
    lines = [
        "# Written by `tracker demo`: the simulated shops ran on these loopback ports.",
        "[tracker]",
        f'database = "sqlite:///{database.name}"',
        'timezone = "America/New_York"',
        'feed = "latest.json"',
        "",
        "[fetch]",
        "timeout = 10",
        "concurrency = 8",
        "per_host_concurrency = 2",
        "per_host_delay = 0.05",
        "retries = 2",
        "backoff = 0.1",
        "retry_after_cap = 5",
        "",
    ]
    if api is not None:
        lines += [
            "# The fake Creators API the demo ran on loopback; the demo put its secret in",
            f"# ${DEMO_SECRET_ENV} for its own process only.",
            "[amazon]",
            f'credential_id = "{api.credential_id}"',
            f'credential_secret_env = "{DEMO_SECRET_ENV}"',
            'credential_version = "2.1"',
            f'partner_tags = {{ "{DEMO_MARKETPLACE}" = "{DEMO_PARTNER_TAG}" }}',
            f'api_url = "{api.base_url}"',
            f'token_url = "{api.token_url("2.1")}"',
            "rate = 20",
            "retries = 2",
            "backoff = 0.1",
            "retry_after_cap = 5",
            "timeout = 10",
            "",
        ]
    lines += [
        "[[guides]]",
        'id = "headphone-amplifier"',
        'title = "What Is a Headphone Amplifier"',
        'products = ["topping-l50", "schiit-magni-unity"]',
        'currency = "USD"',
        'template = "quick-picks"',
        'output = ["site/headphone-amplifier.html", "site/headphone-amplifier.md"]',
        "hysteresis = 0.03",
        'refresh_after = "24h"',
        'max_age = { default = "72h", "amazon-like" = "24h" }',
        'bands.USD = { limits = [150, 250], labels = ["$", "$$", "$$$"] }',
        "",
    ]
    for pid, name, listings in DEMO_PRODUCTS:
        lines += ["[[products]]", f'id = "{pid}"', f'name = "{name}"']
        strength, weakness = EDITORIAL.get(pid, (None, None))
        if strength:
            lines += [f'top_strength = "{strength}"', f'key_weakness = "{weakness}"']
        lines.append("")
        for shop_name, sku in listings:
            shop = farm[shop_name]
            lines += ["  [[products.listings]]", f'  retailer = "{shop_name}"']
            if api is not None and shop_name == AMAZON_SHOP:
                lines += [
                    '  source = "amazon"',
                    f'  asin = "{DEMO_ASINS[sku]}"',
                    f'  marketplace = "{DEMO_MARKETPLACE}"',
                ]
            else:
                lines.append(f'  url = "{shop.url(sku)}"')
            lines += [f'  currency = "{shop.products[sku].currency}"', ""]
    return "\n".join(lines)


def run_demo(
    output: Path,
    *,
    rounds: int = len(SCENARIO),
    echo: Callable[[str], None] = print,
    now: Clock = utc_now,
) -> bool:
    """Run the demo into ``output``; True when every round ran."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackerError(f"cannot create the output folder {output}: {exc}") from exc
    database = output / "tracker.sqlite3"
    for suffix in ("", "-wal", "-shm"):  # every demo starts a fresh history
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    start = now() - timedelta(hours=ROUND_HOURS * (rounds - 1))
    secret = secrets.token_urlsafe(24)
    with (
        ShopFarm(demo_specs()) as farm,
        demo_api(farm, secret=secret) as api,
        _environ(DEMO_SECRET_ENV, secret),
    ):
        config_file = output / "config.toml"
        config_file.write_text(demo_config(farm, database, api), encoding="utf-8")
        config = load_config(config_file)
        echo(f"simulated shops: {', '.join(s.name for s in farm.shops)}")
        echo(f"fake Amazon Creators API: {api.base_url} (prices the {AMAZON_SHOP} listings)")
        with open_store(config.tracker.database) as store:
            for number in range(rounds):
                step = SCENARIO[number] if number < len(SCENARIO) else LATER
                step.change(farm, api)
                at = start + timedelta(hours=ROUND_HOURS * number)
                echo(f"round {number + 1} ({_fmt(at)}): {step.description}")
                summary = run_once(config, store=store, now=_fixed(at))
                echo(f"  {RunProgress.summary_line(summary)}")
                published = publish(config, store, now=at, changed=True)
                for guide_id, files in published.guides.files.items():
                    written = [p for p, what in files if what == "written"]
                    bands = _bands(config, store, guide_id, at)
                    state = "re-rendered" if written else "unchanged"
                    echo(f"  guide {guide_id}: {state} ({bands})")
            for pid, _name, _listings in DEMO_PRODUCTS:
                history_table(pid, store.history(pid), timezone=config.tracker.timezone)
            counts = store.counts()
        schema = output / "latest-v1.schema.json"
        atomic_write(schema, schema_text().encode())
        end = start + timedelta(hours=ROUND_HOURS * (rounds - 1), minutes=1)
        report = build_report(config, store, since=start - timedelta(minutes=1), until=end)
        write_failing_pages(report, store, output)
        reports = []
        for fmt in ("html", "md"):
            path = output / f"report.{fmt}"
            atomic_write(path, render_report(report, config, fmt=fmt).encode())
            reports.append(path)
        report_counts = report.counts()
    echo(
        f"history: {counts['observations']} distinct states from {counts['fetch_log']} checks "
        f"in {database}"
    )
    for guide in config.guides:
        for out in guide.outputs:
            echo(f"guide: {out.path}")
    echo(f"feed: {config.feed} (schema: {schema})")
    echo(
        f"report: {reports[0]} and {reports[1]}: {report_counts['price_changes']} price changes, "
        f"{report_counts['quarantined']} held for review, {report_counts['failing']} failing "
        "listings, "
        f"{len(report.charts)} charts"
    )
    echo(f"configuration: {config_file}")
    echo(f"try: tracker --config {config_file} history topping-l50")
    return True


def _bands(config: Config, store: Store, guide_id: str, at: datetime) -> str:
    guide = next(g for g in config.guides if g.id == guide_id)
    state = store.guide_state(guide_id)
    view = build_view(
        config, guide, store, now=at, previous_bands=shown_bands(state.bands if state else None)
    )
    return ", ".join(f"{p.product.id} {p.band or '—'}" for p in view.products)


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """``$name`` set to ``value`` in this process for the block, then as it was."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _fixed(at: datetime) -> Clock:
    return lambda: at


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
