"""``tracker demo``: the whole pipeline, offline, against the simulated shops.

The demo starts the simulated shops on loopback, writes the configuration it
uses into the output folder, and runs several rounds six hours apart (simulated
time) in which prices and stock change and one shop misbehaves. It leaves a
real SQLite history behind.
"""

from __future__ import annotations

from collections.abc import Callable
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
from tracker.shops import Fault, ShopFarm, demo_specs
from tracker.store import Store, open_store

__all__ = ["ROUND_HOURS", "SCENARIO", "demo_config", "run_demo"]

ROUND_HOURS = 6

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
    change: Callable[[ShopFarm], None]


def _round2(farm: ShopFarm) -> None:
    farm["TOPPING Direct"].set_price("topping-l50", Decimal("229.00"))
    farm["Shopify store"].set_stock("schiit-magni-unity", False)
    farm["Amazon-like"].set_fault(Fault.rate_limit, sku="fiio-k7", count=1, retry_after=1)


def _round3(farm: ShopFarm) -> None:
    farm["Amazon-like"].clear_faults()
    farm["Amazon-like"].set_fault(Fault.robot_check)
    farm["Big Audio Mart"].set_price("schiit-magni-unity", Decimal("159.00"))
    farm["Big Audio Mart"].set_price("topping-l50", Decimal("25.90"))


def _round4(farm: ShopFarm) -> None:
    farm["Amazon-like"].clear_faults()
    farm["Shopify store"].set_stock("schiit-magni-unity", True)
    farm["Shopify store"].set_price("schiit-magni-unity", Decimal("139.00"))
    farm["WooCommerce store"].set_fault(Fault.not_found, sku="fiio-k7")


def _later(farm: ShopFarm) -> None:
    shop = farm["TOPPING Direct"]
    price = shop.products["topping-l50"].price
    shop.set_price("topping-l50", Decimal("249.00") if price < 240 else Decimal("229.00"))


SCENARIO = (
    Round("first check of every listing", lambda farm: None),
    Round(
        "TOPPING Direct cuts the L50 to $229; the Shopify store sells out of the Magni Unity; "
        "Amazon-like throttles once (429, Retry-After 1 s)",
        _round2,
    ),
    Round(
        "Amazon-like answers with a robot check; Big Audio Mart raises the Magni Unity to $159 "
        "and shows the L50 at $25.90 (a misplaced decimal point: held for review)",
        _round3,
    ),
    Round(
        "Amazon-like recovers; the Shopify store restocks the Magni Unity at $139; "
        "the WooCommerce store's FiiO K7 page is gone (404)",
        _round4,
    ),
)
LATER = Round("TOPPING Direct moves the L50 between $229 and $249", _later)


def demo_config(farm: ShopFarm, database: Path) -> str:
    """The configuration the demo runs with (the shops' ports change every run)."""
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
            lines += [
                "  [[products.listings]]",
                f'  retailer = "{shop_name}"',
                f'  url = "{shop.url(sku)}"',
                f'  currency = "{shop.products[sku].currency}"',
                "",
            ]
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
    with ShopFarm(demo_specs()) as farm:
        config_file = output / "config.toml"
        config_file.write_text(demo_config(farm, database), encoding="utf-8")
        config = load_config(config_file)
        echo(f"simulated shops: {', '.join(s.name for s in farm.shops)}")
        with open_store(config.tracker.database) as store:
            for number in range(rounds):
                step = SCENARIO[number] if number < len(SCENARIO) else LATER
                step.change(farm)
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


def _fixed(at: datetime) -> Clock:
    return lambda: at


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
