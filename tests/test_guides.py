"""Guides: bands with hysteresis, Buy links, the as-of line, re-rendering only on change,
in-place markers and the feed."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import FrozenClock
from tracker.bands import choose_band
from tracker.config import Bands, Config, parse_config
from tracker.errors import ConfigError, RenderError
from tracker.feed import build_feed, schema_text, write_feed
from tracker.models import Availability, Offer, PageStatus
from tracker.render import render_guides
from tracker.store import CheckResult, Store

CONFIG = """
[tracker]
feed = "out/latest.json"

[[guides]]
id = "amps"
title = "What Is a Headphone Amplifier"
products = ["l50", "magni"]
currency = "USD"
template = "quick-picks"
output = ["out/amps.html", "out/amps.md"]
inplace = ["article.md"]
hysteresis = 0.03
refresh_after = "24h"
max_age = { default = "72h", amazon = "24h" }
bands.USD = { limits = [150, 400], labels = ["$", "$$", "$$$"] }

[[products]]
id = "l50"
name = "TOPPING L50"
top_strength = "Low noise"
key_weakness = "No balanced input"
[[products.listings]]
retailer = "TOPPING"
url = "https://topping.example/l50"
[[products.listings]]
retailer = "Amazon"
url = "https://amazon.example/dp/B0L50"
affiliate_url = "https://amazon.example/dp/B0L50?tag=site-20"

[[products]]
id = "magni"
name = "Schiit Magni Unity"
[[products.listings]]
retailer = "Schiit"
url = "https://schiit.example/magni"
"""

ARTICLE = "\n".join(
    [
        "# Best amps",
        "",
        "Intro paragraph that must stay exactly as it is.  Trailing spaces too.  ",
        "| Product | Price | Buy |",
        "|---|---|---|",
        "| L50 | <!-- tracker:band l50 -->?<!-- /tracker --> "
        "| <!-- tracker:buy l50 -->?<!-- /tracker --> |",
        "| Magni | <!-- tracker:band magni -->?<!-- /tracker --> "
        "| <!-- tracker:availability magni --><!-- /tracker --> |",
        "",
        "Accurate as of <!-- tracker:as-of -->never<!-- /tracker -->.",
        "",
    ]
)


class Guide:
    """A configured guide over a real SQLite store, and a way to feed it checks."""

    def __init__(self, tmp_path: Path, store: Store, clock: FrozenClock) -> None:
        self.dir = tmp_path
        (tmp_path / "article.md").write_text(ARTICLE)
        self.config: Config = parse_config(CONFIG, path=tmp_path / "config.toml")
        self.store = store
        self.clock = clock
        store.sync_config(self.config, now=clock())
        self.ids = {(x.product_id, x.retailer): x.id for x in store.active_listings()}

    def see(
        self,
        product: str,
        retailer: str,
        price: str | None,
        *,
        stock: bool = True,
        currency: str = "USD",
    ) -> None:
        offer = Offer(
            status=PageStatus.ok if price else PageStatus.no_price,
            price=Decimal(price) if price else None,
            currency=currency if price else None,
            availability=Availability.InStock if stock else Availability.OutOfStock,
        )
        self.store.record(
            [
                CheckResult(
                    listing_id=self.ids[(product, retailer)],
                    checked_at=self.clock(),
                    duration_ms=1,
                    offer=offer,
                )
            ]
        )

    def render(self, **kw: bool) -> list[Path]:
        return render_guides(self.config, self.store, now=self.clock(), **kw).written

    def html(self) -> str:
        return (self.dir / "out" / "amps.html").read_text()

    def md(self) -> str:
        return (self.dir / "out" / "amps.md").read_text()

    def row(self, name: str) -> str:
        return next(line for line in self.md().splitlines() if line.startswith(f"| {name}"))


@pytest.fixture
def guide(tmp_path: Path, store: Store, clock: FrozenClock) -> Guide:
    return Guide(tmp_path, store, clock)


def test_band_and_buy_come_from_the_lowest_current_price(guide: Guide) -> None:
    guide.see("l50", "TOPPING", "249.00")
    guide.see("l50", "Amazon", "239.00")
    guide.see("magni", "Schiit", "109.00")
    assert len(guide.render()) == 3  # html, md and the in-place article
    assert guide.row("TOPPING L50") == (
        "| TOPPING L50 | $$ | Low noise | No balanced input | "
        "[Buy at Amazon](<https://amazon.example/dp/B0L50?tag=site-20>) |"
    )
    assert "| Schiit Magni Unity | $ |" in guide.md()
    assert 'href="https://amazon.example/dp/B0L50?tag=site-20"' in guide.html()


def test_band_change_rerenders_and_change_inside_band_does_not(guide: Guide) -> None:
    guide.see("l50", "TOPPING", "249.00")
    guide.see("magni", "Schiit", "109.00")
    guide.render()
    html, md = guide.dir / "out" / "amps.html", guide.dir / "out" / "amps.md"
    article = guide.dir / "article.md"
    bands_only = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (md, article)}
    guide.clock.advance(hours=2)
    guide.see("l50", "TOPPING", "259.00")  # still $$
    # the HTML's schema.org data shows the exact price, so it follows the price ...
    assert guide.render() == [html]
    assert '"259.00"' in guide.html() and '"249.00"' not in guide.html()
    # ... while the files that show only bands keep their bytes and their mtime
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (md, article)} == bands_only
    guide.clock.advance(hours=2)
    guide.see("l50", "TOPPING", "429.00")  # $$$
    assert {html, md, article} <= set(guide.render())
    assert "| TOPPING L50 | $$$ |" in guide.md()


def test_a_guide_showing_only_bands_is_not_rewritten_for_a_price_inside_its_band(
    tmp_path: Path, store: Store, clock: FrozenClock
) -> None:
    config = CONFIG.replace('output = ["out/amps.html", "out/amps.md"]', 'output = "out/amps.md"')
    guide = Guide(tmp_path, store, clock)
    guide.config = parse_config(config, path=tmp_path / "config.toml")
    guide.see("l50", "TOPPING", "249.00")
    guide.see("magni", "Schiit", "109.00")
    assert guide.render() == [tmp_path / "out" / "amps.md", tmp_path / "article.md"]
    clock.advance(hours=2)
    guide.see("l50", "TOPPING", "259.00")  # still $$
    assert guide.render() == []
    guide.see("l50", "TOPPING", "429.00")  # $$$
    assert guide.render() == [tmp_path / "out" / "amps.md", tmp_path / "article.md"]


def test_hysteresis_holds_at_a_boundary(guide: Guide) -> None:
    guide.see("magni", "Schiit", "145.00")
    guide.see("l50", "TOPPING", "249.00")
    guide.render()
    md = guide.dir / "out" / "amps.md"  # shows bands only (the HTML also has exact prices)
    for price in ("151.00", "149.00", "152.00", "148.50", "153.00"):  # hovering around 150
        guide.clock.advance(hours=1)
        guide.see("magni", "Schiit", price)
        assert md not in guide.render(), price
        assert "| Schiit Magni Unity | $ |" in guide.md()
    guide.clock.advance(hours=1)
    guide.see("magni", "Schiit", "155.00")  # clearly past 150 + 3%
    assert guide.render()
    assert "| Schiit Magni Unity | $$ |" in guide.md()
    guide.clock.advance(hours=1)
    guide.see("magni", "Schiit", "147.00")  # back under 150, but not under 145.50
    assert md not in guide.render()
    assert "| Schiit Magni Unity | $$ |" in guide.md()


@given(
    prices=st.lists(st.decimals(min_value=100, max_value=500, places=2), min_size=2, max_size=30)
)
def test_hysteresis_never_flips_within_the_margin(prices: list[Decimal]) -> None:
    bands = Bands(currency="USD", limits=(Decimal(150), Decimal(400)), labels=("$", "$$", "$$$"))
    margin = Decimal("0.03")
    band = None
    for price in prices:
        new = choose_band(bands, price, previous=band, hysteresis=margin)
        # a band changes only when the price is clearly past the threshold it crossed
        if band is not None and new > band:
            assert price >= bands.limits[new - 1] * (1 + margin)
        if band is not None and new < band:
            assert price < bands.limits[new] * (1 - margin)
        # away from every threshold, the band is simply the price's band
        if all(abs(price - limit) > limit * margin for limit in bands.limits):
            assert new == bands.band_of(price)
        band = new


def test_out_of_stock_everywhere_shows_no_buy_link(guide: Guide) -> None:
    guide.see("l50", "TOPPING", "249.00", stock=False)
    guide.see("l50", "Amazon", None, stock=False)
    guide.see("magni", "Schiit", "109.00")
    guide.render()
    assert guide.row("TOPPING L50").endswith(
        "| — | Low noise | No balanced input | Currently unavailable |"
    )
    html = guide.html()
    assert "Currently unavailable" in html and "topping.example" not in html
    # and no schema.org offer is claimed for it
    assert html.count('"@type": "Product"') == 1


def test_stale_amazon_price_is_not_shown_as_current(guide: Guide) -> None:
    guide.see("l50", "Amazon", "199.00")
    guide.see("l50", "TOPPING", "249.00")
    guide.see("magni", "Schiit", "109.00")
    guide.render()
    assert "[Buy at Amazon]" in guide.row("TOPPING L50")
    guide.clock.advance(hours=20)
    guide.see("l50", "TOPPING", "249.00")
    guide.see("magni", "Schiit", "109.00")
    guide.clock.advance(hours=5)  # Amazon's last confirmation is now 25 h old
    assert guide.render()
    assert "[Buy at TOPPING]" in guide.row("TOPPING L50")
    feed = build_feed(guide.config, guide.store, now=guide.clock())
    amazon = next(
        x for x in feed["guides"][0]["products"][0]["listings"] if x["retailer"] == "Amazon"
    )
    assert amazon["stale"] is True and amazon["current"] is False


def test_as_of_is_the_oldest_check_behind_the_page(guide: Guide) -> None:
    guide.see("magni", "Schiit", "109.00")  # 12:00 UTC
    guide.clock.advance(hours=3)
    guide.see("l50", "TOPPING", "249.00")  # 15:00 UTC
    guide.render()
    # the guide's zone is [tracker] timezone (UTC here) unless the guide sets its own
    assert "accurate as of March 1, 2026, 12:00 PM UTC" in guide.html()


def test_as_of_refresh_rerenders_after_refresh_after(guide: Guide) -> None:
    guide.see("l50", "TOPPING", "249.00")
    guide.see("magni", "Schiit", "109.00")
    guide.render()
    guide.clock.advance(hours=23)
    guide.see("l50", "TOPPING", "249.00")
    guide.see("magni", "Schiit", "109.00")
    assert guide.render() == []
    assert render_guides(guide.config, guide.store, now=guide.clock(), check=True).outdated == []
    guide.clock.advance(hours=2)
    guide.see("l50", "TOPPING", "249.00")
    guide.see("magni", "Schiit", "109.00")
    assert render_guides(guide.config, guide.store, now=guide.clock(), check=True).outdated
    assert guide.render()
    assert "March 2, 2026, 1:00 PM UTC" in guide.html()


def test_markers_update_in_place_without_touching_other_bytes(guide: Guide) -> None:
    guide.see("l50", "Amazon", "239.00")
    guide.see("magni", "Schiit", None, stock=False)
    guide.render()
    text = (guide.dir / "article.md").read_text()
    expected = (
        ARTICLE.replace("<!-- tracker:band l50 -->?", "<!-- tracker:band l50 -->$$")
        .replace(
            "<!-- tracker:buy l50 -->?",
            "<!-- tracker:buy l50 -->[Buy at Amazon](<https://amazon.example/dp/B0L50?tag=site-20>)",
        )
        .replace("<!-- tracker:band magni -->?", "<!-- tracker:band magni -->—")
        .replace(
            "<!-- tracker:availability magni -->",
            "<!-- tracker:availability magni -->Currently unavailable",
        )
        .replace("<!-- tracker:as-of -->never", "<!-- tracker:as-of -->March 1, 2026, 12:00 PM UTC")
    )
    assert text == expected


def test_unknown_marker_names_file_and_line(guide: Guide) -> None:
    (guide.dir / "article.md").write_text("a\nb <!-- tracker:colour l50 -->x<!-- /tracker -->\n")
    guide.see("l50", "TOPPING", "249.00")
    with pytest.raises(RenderError, match=r"article.md, line 2: unknown marker tracker:colour"):
        guide.render()


def test_feed_validates_against_its_schema_and_is_written_only_on_change(guide: Guide) -> None:
    guide.see("l50", "TOPPING", "249.00")
    guide.see("l50", "Amazon", "259.00")
    guide.see("magni", "Schiit", None, stock=False)
    guide.render()
    assert write_feed(guide.config, guide.store, now=guide.clock())
    path = guide.dir / "out" / "latest.json"
    feed = json.loads(path.read_text())
    jsonschema.validate(feed, json.loads(schema_text()))
    l50, magni = feed["guides"][0]["products"]
    assert (l50["band"], l50["lowest_price"], l50["best_listing"]["retailer"]) == (
        "$$",
        "249.00",
        "TOPPING",
    )
    assert magni["status"] == "unavailable" and magni["best_listing"] is None
    stamp = path.stat().st_mtime_ns
    guide.clock.advance(minutes=5)
    assert not write_feed(guide.config, guide.store, now=guide.clock())
    assert path.stat().st_mtime_ns == stamp


def test_scraped_text_is_escaped_everywhere(guide: Guide, tmp_path: Path) -> None:
    hostile = CONFIG.replace(
        'name = "TOPPING L50"', 'name = "L50 <script>alert(1)</script> | [x](javascript:alert(1))"'
    )
    hostile = hostile.replace(
        'affiliate_url = "https://amazon.example/dp/B0L50?tag=site-20"',
        'affiliate_url = "https://amazon.example/dp/B0L50?a=\\"><img src=x onerror=alert(1)>"',
    )
    guide.config = parse_config(hostile, path=tmp_path / "config.toml")
    guide.see("l50", "Amazon", "239.00")
    guide.see("magni", "Schiit", "109.00")
    guide.render()
    html = guide.html()
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    md_row = guide.row("L50")
    assert "<script>" not in md_row and "](javascript:" not in md_row
    assert md_row.count(" | ") == 4  # no extra table cell smuggled in


def test_guide_config_errors_name_the_key_path() -> None:
    base = CONFIG.replace("[tracker]", "[tracker]\n")
    cases = [
        (
            base.replace('products = ["l50", "magni"]', 'products = ["l50", "nope"]'),
            "guides[0].products[1]: no product has the id 'nope'",
        ),
        (
            base.replace('labels = ["$", "$$", "$$$"]', 'labels = ["$", "$$"]'),
            "guides[0].bands.USD.labels: needs one label more than limits",
        ),
        (
            base.replace('refresh_after = "24h"', 'refresh_after = "soon"'),
            'guides[0].refresh_after: must be a duration such as "90m"',
        ),
        (base.replace("bands.USD", "bands.EUR"), "guides[0].bands.USD: no bands for the guide's"),
        (
            base.replace('"out/amps.html", "out/amps.md"', '"out/amps"'),
            "guides[0].output: 'out/amps' needs a file extension",
        ),
    ]
    for text, message in cases:
        with pytest.raises(ConfigError) as info:
            parse_config(text)
        assert message in str(info.value)


def test_files_are_replaced_atomically(guide: Guide) -> None:
    guide.see("l50", "TOPPING", "249.00")
    guide.see("magni", "Schiit", "109.00")
    guide.render()
    out = guide.dir / "out"
    inode = os.stat(out / "amps.html").st_ino
    guide.clock.advance(hours=1)
    guide.see("l50", "TOPPING", "449.00")
    guide.render()
    assert os.stat(out / "amps.html").st_ino != inode  # a new file renamed over the old one
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("count", [3, 40])  # flushed file by file; one flush per file system
def test_a_batch_of_files_is_written_whole_or_not_at_all(tmp_path: Path, count: int) -> None:
    from tracker.render import atomic_write_many

    kept = tmp_path / "a" / "kept.html"
    kept.parent.mkdir()
    kept.write_text("old")
    kept.chmod(0o640)
    files = [(tmp_path / ("a" if i % 2 else "b") / f"f{i}.html", b"x%d" % i) for i in range(count)]
    atomic_write_many([*files, (kept, b"new")])
    assert all(path.read_bytes() == data for path, data in files)
    assert kept.read_text() == "new" and kept.stat().st_mode & 0o777 == 0o640  # mode kept
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary file left

    (tmp_path / "blocker").write_text("a file where a folder should be")
    again = [(path, b"changed") for path, _ in files]
    with pytest.raises(RenderError, match="blocker"):
        atomic_write_many([*again, (tmp_path / "blocker" / "g.html", b"y")])
    assert all(path.read_bytes() == data for path, data in files)  # nothing replaced
    assert not [p for p in tmp_path.rglob(".*")]


def test_more_guides_than_one_chunk_are_all_rendered_once(
    tmp_path: Path, store: Store, clock: FrozenClock
) -> None:
    from tracker.render import CHUNK

    count = CHUNK + 10  # the states of two chunks are saved
    text = "".join(
        f'[[guides]]\nid = "g{i}"\ntitle = "Guide {i}"\nproducts = ["p{i}"]\n'
        f'template = "quick-picks"\noutput = "out/g{i}.md"\n'
        'bands.USD = { limits = [150, 400], labels = ["$", "$$", "$$$"] }\n'
        f'[[products]]\nid = "p{i}"\nname = "Amp {i}"\n'
        f'[[products.listings]]\nretailer = "Shop"\nurl = "https://shop.example/p{i}"\n'
        for i in range(count)
    )
    config = parse_config(text, path=tmp_path / "config.toml")
    store.sync_config(config, now=clock())
    store.record(
        [
            CheckResult(
                listing_id=x.id,
                checked_at=clock(),
                duration_ms=1,
                offer=Offer(
                    status=PageStatus.ok,
                    price=Decimal(100 + int(x.product_id[1:])),
                    currency="USD",
                    availability=Availability.InStock,
                ),
            )
            for x in store.active_listings()
        ]
    )
    first = render_guides(config, store, now=clock())
    assert len(first.written) == count
    assert "| Amp 7 | $ |" in (tmp_path / "out" / "g7.md").read_text()
    assert "| Amp 259 | $$ |" in (tmp_path / "out" / "g259.md").read_text()
    assert len(store.guide_states(f"g{i}" for i in range(count))) == count
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    clock.advance(hours=1)
    assert render_guides(config, store, now=clock()).written == []
