"""Configuration: the committed sample loads; errors name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.config import config_path, load_config, parse_config
from tracker.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

LISTING = """
[[products]]
id = "p1"
name = "Product one"
[[products.listings]]
retailer = "Shop"
url = "https://shop.example/p1"
"""


def test_committed_sample_config_loads() -> None:
    config = load_config(ROOT / "config.toml")
    ids = [p.id for p in config.products]
    assert ids == ["topping-l50", "schiit-magni-unity"]
    retailers = {listing.retailer for p in config.products for listing in p.listings}
    assert "Amazon" in retailers and len(retailers) >= 3
    # a relative SQLite path is relative to the config file, not the working directory
    assert config.tracker.database == f"sqlite:///{ROOT / 'db' / 'tracker.sqlite3'}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            LISTING.replace("https://shop.example/p1", "ftp://shop.example/p1"),
            "products[0].listings[0].url: must be an http(s) URL",
        ),
        (
            LISTING.replace("https://shop.example/p1", "not a url"),
            "products[0].listings[0].url: must be an http(s) URL",
        ),
        (LISTING + 'colour = "red"\n', "products[0].listings[0].colour: unknown key"),
        ("[fetch]\ntimeout = -1\n", "fetch.timeout: must be at least 0.1"),
        ('[fetch]\nconcurrency = "8"\n', "fetch.concurrency: must be an integer, not a string"),
        ("[fetch]\nrespect_robots = 1\n", "fetch.respect_robots: must be true or false"),
        ("[fetch]\nretries = true\n", "fetch.retries: must be an integer, not a boolean"),
        ("[fetch]\nper_host_dealy = 1\n", "fetch.per_host_dealy: unknown key"),
        ('[tracker]\ntimezone = "Mars/Olympus"\n', "tracker.timezone: unknown time zone"),
        ('[[products]]\nname = "x"\n', "products[0].id: is required"),
        ('[[products]]\nid = "Bad Id"\nname = "x"\n', "products[0].id: must be lower-case"),
        (LISTING + LISTING, "products[1].id: 'p1' is already used by products[0]"),
        (
            LISTING.replace('retailer = "Shop"\n', ""),
            "products[0].listings[0].retailer: is required",
        ),
        (LISTING + 'currency = "usd"\n', "products[0].listings[0].currency: must be an ISO 4217"),
        ('[[sites]]\nmatch = "https://x.example/"\n', "sites[0].match: must be a domain"),
        (
            '[[sites]]\nmatch = "x.example"\n[sites.rules.availability_map]\n"sold" = "Gone"\n',
            "sites[0].rules.availability_map.sold: must be a schema.org availability",
        ),
        (
            '[[sites]]\nmatch = "x.example"\n[sites.rules]\nprice = 3\n',
            "sites[0].rules.price: must be a string, not an integer",
        ),
        ("products = 3\n", "products: must be an array"),
        ("[tracker\n", "invalid TOML"),
    ],
)
def test_errors_name_the_key_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert message in str(info.value)


def test_site_overrides_apply_to_its_domain_and_subdomains() -> None:
    config = parse_config(
        "[fetch]\nper_host_delay = 1.0\n"
        '[[sites]]\nmatch = "shop.example"\nper_host_delay = 7.5\ncurrency = "EUR"\n'
    )
    assert config.fetch_for("https://www.shop.example/a").per_host_delay == 7.5
    assert config.fetch_for("https://shop.example/a").per_host_delay == 7.5
    assert config.fetch_for("https://notshop.example/a").per_host_delay == 1.0
    site = config.site_for("https://www.shop.example/a")
    assert site is not None and site.currency == "EUR"


def test_config_path_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    assert config_path(None) == Path("config.toml")
    monkeypatch.setenv("TRACKER_CONFIG", str(tmp_path / "env.toml"))
    assert config_path(None) == tmp_path / "env.toml"
    assert config_path(tmp_path / "flag.toml") == tmp_path / "flag.toml"


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; pass --config PATH or set TRACKER_CONFIG"):
        load_config(tmp_path / "nope.toml")


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", "postgresql+psycopg://u:secret@db/tracker")
    assert parse_config("").tracker.database == "postgresql+psycopg://u:secret@db/tracker"
