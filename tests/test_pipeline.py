"""The whole run against the simulated shops: what lands in the history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import FrozenClock
from tracker.config import Config, parse_config
from tracker.demo import DEMO_PRODUCTS, demo_config
from tracker.models import Availability
from tracker.pipeline import run_once
from tracker.shops import Fault, ShopFarm, demo_specs
from tracker.store import Store, open_store


@pytest.fixture(scope="module")
def farm() -> Iterator[ShopFarm]:
    with ShopFarm(demo_specs()) as f:
        yield f


@pytest.fixture
def setup(farm: ShopFarm, tmp_path: Path, db_url: str) -> Iterator[tuple[Config, Store]]:
    for shop in farm.shops:
        shop.clear_faults()
    text = demo_config(farm, tmp_path / "history.sqlite3").replace(
        "per_host_delay = 0.05", "per_host_delay = 0"
    )
    path = tmp_path / "config.toml"
    path.write_text(text)
    config = parse_config(text, path=path)
    with open_store(config.tracker.database) as store:
        yield config, store


def current(store: Store, product_id: str) -> dict[str, tuple[Decimal | None, str | None, str]]:
    """retailer -> (price, currency, availability) of the newest state."""
    out = {}
    for row in store.history(product_id):
        avail = row.availability.value if row.availability else "-"
        out[row.retailer] = (row.price, row.currency, avail)
    return out


@pytest.mark.parametrize("processes", [None, 1], ids=["in-process", "reader-process"])
def test_every_markup_style_is_read_correctly(
    farm: ShopFarm, setup: tuple[Config, Store], clock: FrozenClock, processes: int | None
) -> None:
    config, store = setup
    if processes is not None:  # pages read in a separate process give the same history
        config = replace(config, fetch=replace(config.fetch, extract_processes=processes))
    summary = run_once(config, store=store, now=clock)
    assert summary.failed == 0, summary.failures
    assert summary.new == sum(len(listings) for _, _, listings in DEMO_PRODUCTS)
    for pid, _name, listings in DEMO_PRODUCTS:
        seen = current(store, pid)
        for shop_name, sku in listings:
            product = farm[shop_name].products[sku]
            price, currency, availability = seen[shop_name]
            assert availability == ("InStock" if product.in_stock else "OutOfStock"), shop_name
            if product.in_stock:
                assert (price, currency) == (product.price, product.currency), shop_name


def test_unchanged_pages_use_validators_and_add_no_history(
    farm: ShopFarm, setup: tuple[Config, Store], clock: FrozenClock
) -> None:
    config, store = setup
    run_once(config, store=store, now=clock)
    states = store.counts()["observations"]
    for shop in farm.shops:
        shop.reset_log()
    clock.advance(hours=6)
    summary = run_once(config, store=store, now=clock)
    assert summary.unchanged == summary.checked and summary.failed == 0
    assert store.counts()["observations"] == states
    conditional = [r for shop in farm.shops for r in shop.requests() if r.path != "/robots.txt"]
    assert conditional and all(r.if_none_match for r in conditional)
    assert {r.status for r in conditional} == {304}


def test_a_price_change_adds_exactly_one_state(
    farm: ShopFarm, setup: tuple[Config, Store], clock: FrozenClock
) -> None:
    config, store = setup
    run_once(config, store=store, now=clock)
    shop = farm["TOPPING Direct"]
    old = shop.products["topping-l50"].price
    try:
        shop.set_price("topping-l50", Decimal("199.00"))
        clock.advance(hours=6)
        summary = run_once(config, store=store, now=clock)
    finally:
        shop.set_price("topping-l50", old)
    assert summary.changed == 1 and summary.failed == 0
    prices = [r.price for r in store.history("topping-l50") if r.retailer == "TOPPING Direct"]
    assert prices == [old, Decimal("199.00")]


def test_failures_are_classified_and_keep_the_last_good_price(
    farm: ShopFarm, setup: tuple[Config, Store], clock: FrozenClock
) -> None:
    config, store = setup
    run_once(config, store=store, now=clock)
    before = current(store, "topping-l50")
    farm["Amazon-like"].set_fault(Fault.robot_check)
    farm["Big Audio Mart"].set_fault(Fault.redirect_home, sku="topping-l50")
    farm["TOPPING Direct"].set_fault(Fault.gone, sku="topping-l50")
    farm["WooCommerce store"].set_fault(Fault.robot_check, variant="cloudflare")
    clock.advance(hours=6)
    summary = run_once(config, store=store, now=clock)
    assert summary.failures == {"blocked": 3, "redirected": 1, "gone": 1}
    assert summary.exit_code == 1
    # nothing bogus recorded; the last good prices stand
    assert current(store, "topping-l50") == before
    states = store.listing_states()
    failing = [s for s in states.values() if s.consecutive_failures]
    assert len(failing) == 5
    assert all(s.last_price is not None for s in failing)
    # the other listings were checked as usual
    assert summary.checked == len(states)


def test_sold_out_is_recorded_as_out_of_stock(
    farm: ShopFarm, setup: tuple[Config, Store], clock: FrozenClock
) -> None:
    config, store = setup
    run_once(config, store=store, now=clock)
    shop = farm["Shopify store"]
    shop.set_stock("schiit-magni-unity", False)
    try:
        clock.advance(hours=6)
        run_once(config, store=store, now=clock)
    finally:
        shop.set_stock("schiit-magni-unity", True)
    rows = [r for r in store.history("schiit-magni-unity") if r.retailer == "Shopify store"]
    assert [r.availability for r in rows] == [Availability.InStock, Availability.OutOfStock]


def test_a_run_keeps_fetching_while_another_process_writes_the_database(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """Another process (a render, a second run) holds SQLite's write lock: the run keeps
    fetching meanwhile, holding the checks it cannot record yet, and records every one
    once the lock is free."""
    import sqlite3
    import threading
    import time

    from tracker.shops import Product, Shop, Style

    products = [Product(f"amp-{i}", f"Amplifier {i}", Decimal(100 + i)) for i in range(300)]
    db = tmp_path / "history.sqlite3"
    with Shop("Busy shop", style=Style.plain, products=products) as shop:
        config = parse_config(
            f'[tracker]\ndatabase = "sqlite:///{db}"\n'
            "[fetch]\nconcurrency = 8\nper_host_concurrency = 8\nper_host_delay = 0\n"
            + "".join(
                f'[[products]]\nid = "{p.sku}"\nname = "{p.title}"\n'
                f'[[products.listings]]\nretailer = "Busy shop"\nurl = "{shop.url(p.sku)}"\n'
                for p in products
            )
        )
        with open_store(config.tracker.database) as store:
            store.sync_config(config, now=clock())
            seen: list[int] = []

            def hold_the_lock() -> None:
                deadline = time.monotonic() + 30
                while len(shop.requests(settle=0)) < 10 and time.monotonic() < deadline:
                    time.sleep(0.005)  # the run has started
                other = sqlite3.connect(db, isolation_level=None, timeout=30)
                other.execute("BEGIN IMMEDIATE")  # another process's write transaction
                start = len(shop.requests(settle=0))
                while len(shop.requests(settle=0)) < start + 150 and time.monotonic() < deadline:
                    time.sleep(0.005)
                seen.append(len(shop.requests(settle=0)) - start)
                other.execute("COMMIT")
                other.close()

            holder = threading.Thread(target=hold_the_lock)
            holder.start()
            summary = run_once(config, store=store, now=clock)
            holder.join()
            recorded = store.counts()["observations"]
    # 150 pages were fetched while the lock was held (a run waiting for it at its next
    # batch of 50 checks would have stopped within about 60), then all 300 were recorded
    assert seen and seen[0] >= 150
    assert (summary.checked, summary.new, summary.failed) == (300, 300, 0)
    assert recorded == 300
