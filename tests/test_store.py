"""History: one row per distinct state; failures never overwrite the last good price."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import FrozenClock
from tracker.config import parse_config
from tracker.errors import StoreError
from tracker.models import Availability, Offer, PageStatus
from tracker.store import CheckResult, Store, open_store

CONFIG = """
[[products]]
id = "amp"
name = "Amp"
[[products.listings]]
retailer = "Shop A"
url = "https://a.example/amp"
[[products.listings]]
retailer = "Shop B"
url = "https://b.example/amp"
"""


def ok(price: str | None, availability: Availability | None = Availability.InStock) -> Offer:
    return Offer(
        status=PageStatus.ok if price else PageStatus.no_price,
        price=Decimal(price) if price else None,
        currency="USD" if price else None,
        availability=availability,
        method="json-ld",
    )


def test_history_grows_with_changes_not_checks(store: Store, clock: FrozenClock) -> None:
    store.sync_config(parse_config(CONFIG), now=clock())
    a = store.active_listings()[0]
    sequence = ["249.00", "249.00", "249.00", "229.00", "229.00", "249.00"]
    outcomes = []
    for price in sequence:
        result = CheckResult(
            listing_id=a.id, checked_at=clock.advance(hours=6), duration_ms=5, offer=ok(price)
        )
        outcomes += store.record([result])
    assert outcomes == ["new", "unchanged", "unchanged", "changed", "unchanged", "changed"]
    rows = store.history("amp")
    assert [(r.price, r.checks) for r in rows] == [
        (Decimal("249.00"), 3),
        (Decimal("229.00"), 2),
        (Decimal("249.00"), 1),
    ]
    # spans are the checks that saw each state, timezone-aware
    assert rows[0].first_seen.tzinfo is not None
    assert rows[0].last_seen > rows[0].first_seen
    assert store.counts()["fetch_log"] == len(sequence)


@pytest.mark.parametrize("batch", ["one call", "a call per round"])
def test_checks_recorded_in_one_batch_make_the_history_of_one_at_a_time(
    store: Store, clock: FrozenClock, batch: str
) -> None:
    """Two listings' checks, each listing's prices changing, recorded in one call (new
    states of the same listing in one batch) or one call per round (one new state per
    listing in a batch): the same outcomes, and the same history for each listing."""
    store.sync_config(parse_config(CONFIG), now=clock())
    a, b = store.active_listings()
    rounds = [("249.00", "99.00"), ("229.00", "99.00"), ("249.00", "89.00"), ("219.00", "79.00")]
    results = [
        CheckResult(listing_id=lid, checked_at=t, duration_ms=5, offer=ok(price))
        for pa, pb in rounds
        for t in [clock.advance(hours=6)]
        for lid, price in ((a.id, pa), (b.id, pb))
    ]
    if batch == "one call":
        outcomes = store.record(results)
    else:
        outcomes = [o for i in range(0, len(results), 2) for o in store.record(results[i : i + 2])]
    assert outcomes == ["new", "new", "changed", "unchanged"] + ["changed"] * 4
    history = [(r.retailer, r.price, r.checks) for r in store.history("amp")]
    assert sorted(history) == sorted(
        [("Shop A", Decimal(p), 1) for p in ("249.00", "229.00", "249.00", "219.00")]
        + [("Shop B", Decimal("99.00"), 2), ("Shop B", Decimal("89.00"), 1)]
        + [("Shop B", Decimal("79.00"), 1)]
    )
    # the state each listing is left in is its last check's
    latest = {r.retailer: r.price for r in store.history("amp") if r.last_seen == clock()}
    assert latest == {"Shop A": Decimal("219.00"), "Shop B": Decimal("79.00")}


def test_failures_keep_the_last_good_price(store: Store, clock: FrozenClock) -> None:
    store.sync_config(parse_config(CONFIG), now=clock())
    a = store.active_listings()[0]
    store.record(
        [
            CheckResult(
                listing_id=a.id, checked_at=clock.advance(hours=1), duration_ms=1, offer=ok("99.95")
            )
        ]
    )
    for kind in ("timeout", "blocked", "http_error"):
        store.record(
            [
                CheckResult(
                    listing_id=a.id,
                    checked_at=clock.advance(hours=1),
                    duration_ms=1,
                    failure=kind,
                    error="boom",
                )
            ]
        )
    state = store.listing_states()[a.id]
    assert state.last_price == Decimal("99.95")
    assert state.consecutive_failures == 3
    assert state.last_failure_kind == "http_error"
    assert [r.price for r in store.history("amp")] == [Decimal("99.95")]
    # a success clears the failure streak
    store.record(
        [
            CheckResult(
                listing_id=a.id, checked_at=clock.advance(hours=1), duration_ms=1, offer=ok("99.95")
            )
        ]
    )
    state = store.listing_states()[a.id]
    assert state.consecutive_failures == 0 and state.failing_since is None


def test_sold_out_without_price_is_a_state_but_keeps_last_price(
    store: Store, clock: FrozenClock
) -> None:
    store.sync_config(parse_config(CONFIG), now=clock())
    a = store.active_listings()[0]
    store.record(
        [
            CheckResult(
                listing_id=a.id, checked_at=clock.advance(hours=1), duration_ms=1, offer=ok("10.00")
            )
        ]
    )
    outcome = store.record(
        [
            CheckResult(
                listing_id=a.id,
                checked_at=clock.advance(hours=1),
                duration_ms=1,
                offer=ok(None, Availability.OutOfStock),
            )
        ]
    )
    assert outcome == ["changed"]
    assert store.history("amp")[-1].availability is Availability.OutOfStock
    assert store.listing_states()[a.id].last_price == Decimal("10.00")
    # a page with neither price nor availability is a failure, not a state
    outcome = store.record(
        [
            CheckResult(
                listing_id=a.id,
                checked_at=clock.advance(hours=1),
                duration_ms=1,
                offer=ok(None, None),
            )
        ]
    )
    assert outcome == ["no_price"]
    assert len(store.history("amp")) == 2


def test_not_modified_extends_the_current_state(store: Store, clock: FrozenClock) -> None:
    store.sync_config(parse_config(CONFIG), now=clock())
    a = store.active_listings()[0]
    store.record(
        [
            CheckResult(
                listing_id=a.id,
                checked_at=clock.advance(hours=1),
                duration_ms=1,
                offer=ok("5.00"),
                etag='"v1"',
            )
        ]
    )
    assert store.active_listings()[0].etag == '"v1"'
    later = clock.advance(hours=5)
    assert store.record(
        [CheckResult(listing_id=a.id, checked_at=later, duration_ms=1, not_modified=True)]
    ) == ["unchanged"]
    (row,) = store.history("amp")
    assert row.last_seen == later and row.checks == 2


def test_listing_removed_from_config_is_kept_inactive(store: Store, clock: FrozenClock) -> None:
    store.sync_config(parse_config(CONFIG), now=clock())
    b = store.active_listings()[1]
    store.record(
        [CheckResult(listing_id=b.id, checked_at=clock(), duration_ms=1, offer=ok("1.00"))]
    )
    smaller = CONFIG.split('[[products.listings]]\nretailer = "Shop B"')[0]
    store.sync_config(parse_config(smaller), now=clock())
    assert [x.retailer for x in store.active_listings()] == ["Shop A"]
    assert [r.retailer for r in store.history("amp")] == ["Shop B"]  # history kept
    store.sync_config(parse_config(CONFIG), now=clock())  # and it comes back
    assert len(store.active_listings()) == 2


def test_every_change_of_the_catalogue_is_synced_however_often_it_is_unchanged(
    store: Store, clock: FrozenClock
) -> None:
    def shown() -> list[tuple[str, str, str | None]]:
        return [(x.retailer, x.url, x.currency) for x in store.active_listings()]

    for _ in range(3):  # the same catalogue again and again: nothing to change
        store.sync_config(parse_config(CONFIG), now=clock())
    before = shown()
    edited = CONFIG.replace('"Shop A"', '"Shop A (EU)"\ncurrency = "EUR"')
    store.sync_config(parse_config(edited), now=clock())
    assert shown() == [("Shop A (EU)", "https://a.example/amp", "EUR"), before[1]]
    smaller = edited.split('[[products.listings]]\nretailer = "Shop B"')[0]
    store.sync_config(parse_config(smaller), now=clock())
    assert shown() == [("Shop A (EU)", "https://a.example/amp", "EUR")]
    store.sync_config(parse_config(CONFIG), now=clock())  # back to the first catalogue
    assert shown() == before


def test_a_sync_adding_thousands_of_listings_and_dropping_one_keeps_exactly_the_catalogue(
    store: Store, clock: FrozenClock
) -> None:
    from tracker.store import SYNC_CHUNK

    store.sync_config(parse_config(CONFIG), now=clock())
    kept = CONFIG.split('[[products.listings]]\nretailer = "Shop B"')[0]  # Shop B goes
    many = "".join(
        f'[[products]]\nid = "p{i}"\nname = "Amp {i}"\n'
        f'[[products.listings]]\nretailer = "Shop {i % 3}"\n'
        f'url = "https://shop{i % 3}.example/p{i}"\n'
        for i in range(SYNC_CHUNK + 10)  # more than one insert statement
    )
    store.sync_config(parse_config(kept + many), now=clock())
    active = {x.url for x in store.active_listings()}
    assert len(active) == SYNC_CHUNK + 11
    assert "https://a.example/amp" in active and "https://b.example/amp" not in active
    last = SYNC_CHUNK + 9
    assert f"https://shop{last % 3}.example/p{last}" in active
    # listings asked for by id, more than one statement can name (what a helper left)
    every = store.active_listings()
    wanted = [x.id for x in every][::-2]
    assert store.active_listings(wanted) == [x for x in every if x.id in set(wanted)]

    # each listing's place among its host's listings, in configuration order, is what
    # claims spread hosts by; moving the first listing to the end moves every place
    def places() -> dict[str, int]:
        rows = sa.text(
            "SELECT l.url, s.spread FROM listings l JOIN listing_state s ON s.listing_id = l.id"
            " WHERE l.active"
        )
        with store.engine.connect() as conn:
            return {url: spread for url, spread in conn.execute(rows)}

    def expected(urls: list[str]) -> dict[str, int]:
        seen: dict[str, int] = {}
        out = {}
        for url in urls:
            host = url.split("/")[2]
            out[url] = seen.get(host, 0)
            seen[host] = out[url] + 1
        return out

    config = parse_config(kept + many)
    urls = [x.url for p in config.products for x in p.listings]
    assert places() == expected(urls)
    first, rest = many.split("[[products]]", 2)[1:]
    store.sync_config(
        parse_config(kept + "[[products]]" + rest + "[[products]]" + first), now=clock()
    )
    assert places() == expected(urls[:1] + urls[2:] + urls[1:2])


def test_money_is_exact_and_times_are_utc(db_url: str, clock: FrozenClock) -> None:
    with open_store(db_url) as store:
        store.sync_config(parse_config(CONFIG), now=clock())
        a = store.active_listings()[0]
        store.record(
            [CheckResult(listing_id=a.id, checked_at=clock(), duration_ms=1, offer=ok("1299.99"))]
        )
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select price from observations")).scalar_one()
        if db_url.startswith("sqlite"):
            assert stored == "1299.99"  # exact text, never a float
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar_one() == "wal"
        else:
            assert stored == Decimal("1299.99")  # NUMERIC
            column = conn.execute(
                sa.text(
                    "select data_type from information_schema.columns "
                    "where table_name = 'observations' and column_name = 'first_seen'"
                )
            ).scalar_one()
            assert column == "timestamp with time zone"
    engine.dispose()
    with open_store(db_url) as store:
        (row,) = store.history("amp")
        assert row.price == Decimal("1299.99") and row.first_seen == clock()


def test_naive_times_are_refused(store: Store, clock: FrozenClock) -> None:
    with pytest.raises(StoreError):
        store.start_run(now=clock().replace(tzinfo=None))


def test_unusable_database_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        open_store(f"sqlite:///{blocker}/sub/db.sqlite3")
    not_a_db = tmp_path / "junk.sqlite3"
    not_a_db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        open_store(f"sqlite:///{not_a_db}")
    assert not_a_db.read_bytes() == b"this is not a database" * 100  # nothing overwritten


def test_a_batch_not_waiting_for_another_writer_is_not_recorded_until_it_can_be(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """``record(wait=False)`` on SQLite while another process writes: None at once and
    nothing written; the same batch is recorded once the lock is free."""
    import sqlite3

    db = tmp_path / "history.sqlite3"
    with open_store(f"sqlite:///{db}") as store:
        store.sync_config(parse_config(CONFIG), now=clock())
        a = store.active_listings()[0]
        batch = [CheckResult(listing_id=a.id, checked_at=clock(), duration_ms=5, offer=ok("99.00"))]
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction
        assert store.record(batch, wait=False) is None  # (waiting would raise, after 30 s)
        other.execute("COMMIT")
        other.close()
        assert store.counts()["fetch_log"] == 0
        assert store.record(batch, wait=False) == ["new"]
        assert [r.price for r in store.history("amp")] == [Decimal("99.00")]
