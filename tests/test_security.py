"""Hostile pages, hostile configuration values, other schemes, huge bodies and secrets.

Scraped text must never run in an editor's or reader's browser, never be used as
template source, never turn into a ``javascript:`` link; only http(s) is fetched;
bodies are bounded after decompression; passwords never reach logs, outputs or
error messages. Real servers on loopback, real stores, real ``tracker`` processes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import fresh_database, run_tracker, smtp_server
from tests.test_faults import (
    Answer,
    CannedServer,
    fetch_section,
    listing_config,
    product_page,
)
from tracker.config import Config, FetchSettings, parse_config
from tracker.errors import ConfigError, TrackerError
from tracker.extract import extract
from tracker.feed import build_feed
from tracker.fetch import Fetcher, FetchResult
from tracker.models import Availability, Offer, PageStatus
from tracker.pipeline import run_once
from tracker.publish import publish
from tracker.render import render_guides, safe_url
from tracker.report import build_report, render_report
from tracker.reporting import make_report
from tracker.shops import Product, Shop, Style
from tracker.store import CheckResult, Store, open_store

SCRIPT = "<script>alert(1)</script>"
ONERROR = "<img src=x onerror=alert(1)>"
JINJA = "{{ 7*7 }}{% for x in range(3) %}LOOP{% endfor %}"
HOSTILE_TITLE = f"Amp {SCRIPT}{ONERROR} {JINJA}"
HOSTILE_RETAILER = f"Shop {ONERROR}{JINJA}"
HOSTILE_NAME = f'Amp </script><script>alert("name")</script> {JINJA}'
FORMULA_RETAILER = '=HYPERLINK("http://evil.example/","click")'
QUOTE_URL = 'https://ok.example/buy?x=1" onmouseover="alert(1)'


def tracker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_tracker(*args, env=env, timeout=60)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_DATABASE_URL"}
    return env | extra


# -- an HTML checker ------------------------------------------------------------------------------


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def assert_inert(html: str, *, scripts_allowed: bool) -> Tags:
    """No script runs, no event handler, no link anywhere but http(s) (or a local file)."""
    page = Tags(html)
    for tag, attrs in page.tags:
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, (tag, attrs)
        assert tag not in ("img", "iframe", "object", "embed", "base", "form"), (tag, attrs)
        for name in ("href", "src", "action", "xlink:href"):
            value = attrs.get(name)
            if value is not None:
                assert re.match(r"^(https?://|#$|listing-\d+-\w+\.html\.txt$)", value), (tag, attrs)
    if scripts_allowed:
        for attrs, text in page.scripts:
            assert attrs == {"type": "application/ld+json"}, attrs
            json.loads(text)  # data, whole: nothing closed the block early
    else:
        assert page.scripts == []
    return page


def assert_inert_markdown(md: str) -> None:
    """No raw (unescaped) HTML tag, no javascript: link, no template evaluated."""
    assert not re.search(r"(?<!\\)<(script|img|/script)", md), md
    assert "](javascript" not in md.lower() and "(<javascript" not in md.lower()
    assert "LOOPLOOP" not in md


# -- a world of hostile pages and values ----------------------------------------------------------


@dataclass
class Hostile:
    config: Config
    store: Store
    dir: Path
    shop: Shop
    canned: CannedServer

    @property
    def guide_html(self) -> str:
        return (self.dir / "site" / "guide.html").read_text()

    @property
    def guide_md(self) -> str:
        return (self.dir / "site" / "guide.md").read_text()


ROBOT_PAGE = (
    f"<!DOCTYPE html><html><head><title>Robot Check {SCRIPT}{{{{7*7}}}}</title></head>"
    "<body><p>Type the characters you see in this image.</p>"
    "<form action='/errors/validateCaptcha'><input name='field-keywords'></form></body></html>"
)
FILE_REDIRECT = "file:///etc/passwd"
BREAKOUT_JSONLD = (
    '{"@context": "https://schema.org", "@type": "Product", '
    '"name": "Amp </script><script>alert(2)</script>", '
    '"offers": {"@type": "Offer", "price": "249.00", "priceCurrency": "USD"}}'
)


def hostile_config(database: str, shop: Shop, canned: CannedServer) -> str:
    products = [
        ("hostile-title", HOSTILE_NAME, "Hostile shop", shop.url("hostile"), QUOTE_URL),
        ("hostile-retailer", "Plain Amp", HOSTILE_RETAILER, canned.url("/p/ld"), None),
        ("robot", "Robot Amp", FORMULA_RETAILER, canned.url("/p/robot"), None),
        ("js-redirect", "Redirect Amp", "Redirecting shop", canned.url("/p/redirect"), None),
    ]
    lines = [
        "[tracker]",
        f"database = {json.dumps(database)}",
        'feed = "site/latest.json"',
        "",
        fetch_section(),
        "[[guides]]",
        'id = "guide"',
        f"title = {json.dumps('Guide ' + SCRIPT)}",
        f"products = {json.dumps([p[0] for p in products])}",
        'template = "quick-picks"',
        'output = ["site/guide.html", "site/guide.md"]',
        'bands.USD = { limits = [150, 400], labels = ["$", "$$", "$$$"] }',
        "",
    ]
    for pid, name, retailer, url, affiliate in products:
        lines += [
            "[[products]]",
            f'id = "{pid}"',
            f"name = {json.dumps(name)}",
            f"top_strength = {json.dumps(ONERROR + JINJA)}",
            "  [[products.listings]]",
            f"  retailer = {json.dumps(retailer)}",
            f"  url = {json.dumps(url)}",
            '  currency = "USD"',
        ]
        if affiliate:
            lines.append(f"  affiliate_url = {json.dumps(affiliate)}")
        lines.append("")
    return "\n".join(lines)


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hostile]:
    monkeypatch.delenv("TRACKER_DATABASE_URL", raising=False)
    products = [Product("hostile", HOSTILE_TITLE, Decimal("249.00"))]
    with Shop("Hostile shop", style=Style.shopify, products=products) as shop, CannedServer() as c:
        c.routes["/p/ld"] = Answer(product_page("x", "249.00", jsonld=BREAKOUT_JSONLD).encode())
        c.routes["/p/robot"] = Answer(product_page("Robot Amp", "99.00").encode())
        c.routes["/p/redirect"] = Answer(product_page("Redirect Amp", "99.00").encode())
        text = hostile_config(f"sqlite:///{tmp_path / 'history.sqlite3'}", shop, c)
        (tmp_path / "config.toml").write_text(text)
        config = parse_config(text, path=tmp_path / "config.toml")
        with open_store(config.tracker.database) as store:
            yield Hostile(config, store, tmp_path, shop, c)


def two_rounds(h: Hostile) -> datetime:
    """Round 1 as is; round 2 moves a price, serves a robot check and a javascript: redirect."""
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for i, change in enumerate((False, True)):
        if change:
            h.shop.set_price("hostile", "199.00")
            h.canned.routes["/p/ld"] = Answer(
                product_page("x", "229.00", jsonld=BREAKOUT_JSONLD.replace("249", "229")).encode()
            )
            h.canned.routes["/p/robot"] = Answer(ROBOT_PAGE.encode())
            h.canned.routes["/p/redirect"] = Answer(
                b"", 302, headers=(("Location", FILE_REDIRECT),)
            )
        at = t0 + timedelta(hours=6 * i)
        summary = run_once(h.config, store=h.store, now=lambda at=at: at)
        publish(h.config, h.store, now=at, changed=True)
    assert summary.failures == {"blocked": 1, "redirect": 1}, summary.failures
    return t0 + timedelta(hours=6, minutes=1)


def test_scraped_and_configured_text_is_escaped_in_the_guides(hostile: Hostile) -> None:
    two_rounds(hostile)
    html, md = hostile.guide_html, hostile.guide_md
    page = assert_inert(html, scripts_allowed=True)
    # the values are there, as text
    assert "Amp &lt;/script&gt;&lt;script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    names = [json.loads(text)["name"] for _, text in page.scripts]
    assert HOSTILE_NAME in names  # JSON-LD data keeps the name exactly, and inert
    # never template source
    assert JINJA in html and "LOOPLOOP" not in html
    # Markdown: no raw HTML, no link or table cell smuggled in
    assert_inert_markdown(md)
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    cells = [len(re.findall(r"(?<!\\)\|", line)) - 1 for line in rows]
    assert len(rows) == 5 and cells == [5] * 5, rows  # five columns each: none smuggled in
    # the quote in the affiliate URL cannot open an attribute
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert QUOTE_URL in links


def test_scraped_text_is_escaped_in_every_report_format(hostile: Hostile) -> None:
    until = two_rounds(hostile)
    out = hostile.dir / "report" / "report.html"
    out.parent.mkdir()
    make_report(hostile.config, since="7d", fmt="html", output=out, now=lambda: until)
    html = out.read_text()
    assert_inert(html, scripts_allowed=False)
    # the scraped robot-check title reached the report, escaped, never evaluated
    assert "Robot Check &lt;script&gt;alert(1)&lt;/script&gt;{{7*7}}" in html
    assert "refused a redirect to a non-http(s) URL: file://" in html
    assert "LOOPLOOP" not in html
    # the saved failing pages are text files beside the report, not HTML
    saved = sorted(p.name for p in out.parent.iterdir() if p.name != "report.html")
    assert saved and all(name.endswith(".html.txt") for name in saved), saved
    report = build_report(
        hostile.config, hostile.store, since=until.replace(year=2000), until=until
    )
    assert report.charts  # the chart labels (hostile retailer) are escaped too
    assert_inert_markdown(render_report(report, hostile.config, fmt="md"))
    rows = list(csv.reader(io.StringIO(render_report(report, hostile.config, fmt="csv"))))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") and not re.match(r"^[+-]?\d", c)]
    assert f"'{FORMULA_RETAILER}" in cells
    data = json.loads(render_report(report, hostile.config, fmt="json"))
    assert any("Robot Check <script>" in (f["error"] or "") for f in data["failing"])


def test_a_javascript_url_from_a_shop_never_becomes_a_link(hostile: Hostile) -> None:
    two_rounds(hostile)
    # the link a shop's API hands us (Amazon's detailPageURL) passes through safe_url too
    listing_id = next(
        ref.id for ref in hostile.store.active_listings() if ref.product_id == "hostile-retailer"
    )
    at = datetime(2026, 3, 2, tzinfo=UTC)
    offer = Offer(PageStatus.ok, Decimal("99.00"), "USD", Availability.InStock)
    for url in ("javascript:alert(document.cookie)", " JaVaScRiPt:alert(1)", "data:text/html,x"):
        hostile.store.record(
            [CheckResult(listing_id, at, 0, offer=offer, buy_url=url)], run_id=None
        )
        render_guides(hostile.config, hostile.store, now=at, force=True)
        html, md = hostile.guide_html, hostile.guide_md
        hrefs = [a.get("href") for tag, a in Tags(html).tags if tag == "a"]
        assert "#" in hrefs and not any("script:" in (h or "").lower() for h in hrefs), hrefs
        assert "(<#>)" in md and url.strip().lower() not in md.lower()
        feed = build_feed(hostile.config, hostile.store, now=at)
        best = feed["guides"][0]["products"][1]["best_listing"]
        assert best["affiliate_url"] == "#"
        at += timedelta(minutes=1)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "  javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "//evil.example/",
        "file:///etc/passwd",
        "",
    ],
)
def test_safe_url_turns_every_other_scheme_into_a_dead_link(url: str) -> None:
    assert safe_url(url) == "#"


C0_AND_SPACE = "".join(chr(i) for i in range(0x21))


def browser_scheme(url: str) -> str:
    """The scheme a browser reads from an href (WHATWG URL: C0 controls and spaces
    trimmed, tabs and newlines removed anywhere)."""
    text = re.sub(r"[\t\n\r]", "", url.strip(C0_AND_SPACE))
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", text)
    return match[1].lower() if match else ""


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.builds(
            lambda scheme, rest: scheme + rest,
            st.sampled_from(["http:", "https:", "javascript:", "JavaScript:", "data:", " java"]),
            st.text(),
        ),
    )
)
@example("https://ok.example/x")
@example("http://[oops/")  # an unparseable URL is "#", never an exception
def test_safe_url_only_ever_yields_http_links(url: str) -> None:
    out = safe_url(url)
    assert out == "#" or browser_scheme(out) in ("http", "https"), out


@pytest.mark.parametrize("key", ["url", "affiliate_url"])
@pytest.mark.parametrize(
    "value", ["javascript:alert(1)", "file:///etc/passwd", "ftp://ftp.example/x", "//evil/x"]
)
def test_configured_urls_must_be_http(key: str, value: str, tmp_path: Path) -> None:
    listing = {"retailer": "R", "url": "https://shop.example/p"} | {key: value}
    text = '[[products]]\nid = "p"\nname = "P"\n  [[products.listings]]\n' + "".join(
        f"  {k} = {json.dumps(v)}\n" for k, v in listing.items()
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert f"products[0].listings[0].{key}: must be an http(s) URL" in str(caught.value)
    # and from the command line: a configuration error, exit code 2
    (tmp_path / "config.toml").write_text(text)
    done = tracker("--config", str(tmp_path / "config.toml"), "run", env=clean_env())
    assert done.returncode == 2, done.stderr
    assert f"products[0].listings[0].{key}: must be an http(s) URL" in done.stderr


def test_an_unparsable_configured_url_is_a_configuration_error() -> None:
    text = (
        '[[products]]\nid = "p"\nname = "P"\n  [[products.listings]]\n'
        '  retailer = "R"\n  url = "https://shop.example/p"\n  affiliate_url = "http://[oops/"\n'
    )
    with pytest.raises(ConfigError, match=r"affiliate_url: must be an http\(s\) URL"):
        parse_config(text)


TERMINAL = "Amp \x1b[2J\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ [bold red]x[/] \x07"


def test_scraped_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    robot = f"<html><head><title>Robot Check {TERMINAL}</title></head><body>captcha</body></html>"
    with CannedServer() as canned:
        canned.routes["/p/amp"] = Answer(product_page(TERMINAL, "249.00").encode())
        canned.routes["/p/robot"] = Answer(robot.encode())
        config = tmp_path / "config.toml"
        config.write_text(
            listing_config(
                f"sqlite:///{tmp_path / 'h.sqlite3'}",
                [("robot", "Canned", canned.url("/p/robot"), "USD")],
            )
        )
        env = clean_env()
        checked = tracker("--config", str(config), "check", canned.url("/p/amp"), env=env)
        as_json = tracker("--config", str(config), "check", "--json", canned.url("/p/amp"), env=env)
        run = tracker("--config", str(config), "run", env=env)
    assert checked.returncode == 0 and run.returncode == 1, (checked.stderr, run.stderr)
    assert json.loads(as_json.stdout)["title"].startswith("Amp \x1b[2J")  # data, kept exactly
    for out in (checked.stdout, checked.stderr, run.stdout, run.stderr):
        assert "\x1b" not in out and "\x07" not in out, out
    assert "blocked" in run.stderr


# -- only http(s) is fetched ----------------------------------------------------------------------

UNUSABLE_LOCATION = (
    "a Location httpx cannot build a URL from (javascript:, data:, mailto:) raises "
    "httpx.InvalidURL out of Fetcher.fetch: the check is an 'internal' error with a "
    "traceback in the log, not a refused redirect"
)


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/pub/file",
        "gopher://127.0.0.1:70/1",
        pytest.param("javascript:alert(1)"),
        pytest.param(
            "data:text/html,<h1>$1.00</h1>",
        ),
        pytest.param(
            "mailto:shop@example.com",
        ),
    ],
)
def test_redirects_to_other_schemes_are_refused(target: str, tmp_path: Path) -> None:
    with CannedServer() as canned:
        canned.routes["/p/moved"] = Answer(b"", 302, headers=(("Location", target),))
        text = listing_config(
            f"sqlite:///{tmp_path / 'history.sqlite3'}",
            [("p", "Canned", canned.url("/p/moved"), "USD")],
        )
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("TRACKER_DATABASE_URL", raising=False)
            config = parse_config(text)
        with open_store(config.tracker.database) as store:
            summary = run_once(config, store=store)
            (failing,) = store.failing()
            assert store.counts()["observations"] == 0
        requested = list(canned.requests)
    assert summary.failures == {"redirect": 1}
    assert failing.kind == "redirect" and "non-http(s)" in (failing.error or ""), failing
    assert requested == ["/robots.txt", "/p/moved"]  # nothing else was fetched


def test_tracker_check_refuses_a_redirect_to_a_local_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(listing_config("sqlite:///unused.sqlite3", []))
    with CannedServer() as canned:
        canned.routes["/p/moved"] = Answer(b"", 302, headers=(("Location", "file:///etc/passwd"),))
        done = tracker(
            "--config", str(config), "check", "--json", canned.url("/p/moved"), env=clean_env()
        )
    assert done.returncode == 1
    (line,) = done.stdout.splitlines()
    found = json.loads(line)
    assert found["status"] == "error" and "non-http(s)" in found["error"]
    assert "root:" not in done.stdout + done.stderr


# -- body and decompression limits ----------------------------------------------------------------

LIMIT = 100_000


def fetch_one(url: str, **fetch: Any) -> FetchResult:
    settings_ = {"per_host_delay": 0.0, "retries": 0, "timeout": 10.0, "max_body_bytes": LIMIT}
    config = Config(path=None, fetch=FetchSettings(**(settings_ | fetch)))

    async def go() -> FetchResult:
        async with Fetcher(config) as f:
            return await f.fetch(url)

    return asyncio.run(go())


def deflate(data: bytes, *, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


BOMB = b"<p>" + b" " * (50 * LIMIT)


@pytest.mark.parametrize(
    ("answer", "expect"),
    [
        (Answer(b"x" * LIMIT), None),
        (Answer(b"x" * (LIMIT + 1)), "too_large"),
        (Answer(b"x" * 1000, chunked=True, repeat=LIMIT // 1000), None),
        (Answer(b"x" * 1000, chunked=True, repeat=LIMIT // 1000 + 1), "too_large"),
        (Answer(deflate(b"x" * LIMIT, wbits=31), headers=(("Content-Encoding", "gzip"),)), None),
        (Answer(deflate(BOMB, wbits=31), headers=(("Content-Encoding", "gzip"),)), "too_large"),
        (Answer(deflate(BOMB, wbits=15), headers=(("Content-Encoding", "deflate"),)), "too_large"),
        (
            Answer(deflate(BOMB, wbits=31), headers=(("Content-Encoding", "gzip"),), chunked=True),
            "too_large",
        ),
        (Answer(b"\x1f\x8b garbage", headers=(("Content-Encoding", "gzip"),)), "network"),
        (Answer(b"x", headers=(("Content-Encoding", "br"),)), "network"),
    ],
    ids=[
        "identity-at-limit",
        "identity-over-limit",
        "chunked-at-limit",
        "chunked-over-limit",
        "gzip-inflating-to-limit",
        "gzip-bomb",
        "deflate-bomb-zlib",
        "gzip-bomb-chunked",
        "corrupt-gzip",
        "unknown-encoding",
    ],
)
def test_body_limits_count_decompressed_bytes(answer: Answer, expect: str | None) -> None:
    with CannedServer() as canned:
        canned.routes["/page"] = answer
        result = fetch_one(canned.url("/page"))
    assert result.failure == expect, result.error
    assert len(result.body) <= LIMIT
    if expect is None:
        assert len(result.body) == LIMIT


def test_a_raw_deflate_body_is_read() -> None:
    page = product_page("Amp", "249.00").encode()
    with CannedServer() as canned:
        canned.routes["/page"] = Answer(
            deflate(page, wbits=-15), headers=(("Content-Encoding", "deflate"),)
        )
        result = fetch_one(canned.url("/page"))
    assert (result.failure, result.body) == (None, page)


# -- secrets --------------------------------------------------------------------------------------

SECRET = "s3cret-Pw-7f1c"


def small_config(folder: Path, *, database: str | None = None, extra: str = "") -> Path:
    text = (
        "[tracker]\n"
        + (f"database = {json.dumps(database)}\n" if database else "")
        + '\n[[products]]\nid = "p"\nname = "P"\n  [[products.listings]]\n'
        '  retailer = "R"\n  url = "http://127.0.0.1:9/p"\n' + extra
    )
    path = folder / "config.toml"
    path.write_text(text)
    return path


UNREACHABLE = f"postgresql+psycopg://tracker:{SECRET}@127.0.0.1:1/tracker"


@pytest.mark.parametrize(
    "args", [("status",), ("run",), ("-vv", "run"), ("report",), ("db", "upgrade")]
)
def test_an_unreachable_database_error_hides_its_password(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    config = small_config(tmp_path)
    done = tracker("--config", str(config), *args, env=clean_env(TRACKER_DATABASE_URL=UNREACHABLE))
    assert done.returncode == 3, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "127.0.0.1" in done.stderr  # the message still says which database


def test_an_invalid_database_url_error_hides_its_password(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    done = tracker(
        "--config",
        str(config),
        "status",
        env=clean_env(TRACKER_DATABASE_URL=f"tracker:{SECRET}@db.example/tracker"),
    )
    assert done.returncode == 3 and "invalid database URL" in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_a_database_url_with_a_bad_port_is_a_clear_error(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    url = f"postgresql+psycopg://tracker:{SECRET}@db.example:port/tracker"
    done = tracker("--config", str(config), "status", env=clean_env(TRACKER_DATABASE_URL=url))
    assert SECRET not in done.stdout + done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def password_database(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_admin: Any
) -> Iterator[str]:
    """A PostgreSQL database owned by a role with a password; its URL has the password."""
    with fresh_database(
        "postgresql", tmp_path, postgres_admin, request.node.nodeid, password=SECRET
    ) as url:
        yield url


def test_a_database_password_never_reaches_output_or_logs(
    password_database: str, tmp_path: Path
) -> None:
    with CannedServer() as canned:
        canned.routes["/p"] = Answer(product_page("Amp", "249.00").encode())
        config = tmp_path / "config.toml"
        config.write_text(
            listing_config("sqlite:///unused.sqlite3", [("p", "R", canned.url("/p"), "USD")])
        )
        env = clean_env(TRACKER_DATABASE_URL=password_database)
        runs = [
            tracker("--config", str(config), "-vv", *args, env=env)
            for args in (
                ("db", "upgrade"),
                ("run",),
                ("status", "--json"),
                ("report", "--format", "json"),
                ("history", "p"),
            )
        ]
    assert [r.returncode for r in runs] == [0] * 5, [r.stderr for r in runs]
    assert "***" in runs[0].stdout  # db upgrade names the database, without the password
    for r in runs:
        assert SECRET not in r.stdout + r.stderr, r.args


def test_a_refused_smtp_password_is_never_shown(tmp_path: Path) -> None:
    with smtp_server(password=b"the-right-one") as port:
        config = small_config(
            tmp_path,
            database=f"sqlite:///{tmp_path / 'history.sqlite3'}",
            extra=(
                f'\n[report.email]\nhost = "127.0.0.1"\nport = {port}\nstarttls = false\n'
                'username = "editor"\npassword_env = "TEST_SMTP_PASSWORD"\n'
                'sender = "tracker@example.com"\nrecipients = ["editors@example.com"]\n'
            ),
        )
        done = tracker(
            "--config",
            str(config),
            "-vv",
            "report",
            "--email",
            env=clean_env(TEST_SMTP_PASSWORD=SECRET),
        )
    assert done.returncode == 3, done.stderr
    assert "cannot send the report by email" in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_a_password_in_the_configuration_file_is_refused_without_echoing_it(
    tmp_path: Path,
) -> None:
    config = small_config(
        tmp_path,
        extra=(
            '\n[report.email]\nhost = "127.0.0.1"\nusername = "editor"\n'
            f'password = "{SECRET}"\nsender = "t@example.com"\nrecipients = ["e@example.com"]\n'
        ),
    )
    done = tracker("--config", str(config), "status", env=clean_env())
    assert done.returncode == 2
    assert "report.email.password: unknown key" in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_a_webhook_password_is_never_shown(tmp_path: Path) -> None:
    with CannedServer() as hook:
        hook.routes["/hook"] = Answer(b"", 204, content_type=None)
        url = hook.base_url.replace("http://", f"http://bot:{SECRET}@") + "/hook"
        config = small_config(tmp_path, database=f"sqlite:///{tmp_path / 'h.sqlite3'}")
        done = tracker(
            "--config",
            str(config),
            "report",
            "--format",
            "json",
            "--webhook",
            url,
            env=clean_env(),
        )
    assert done.returncode == 0, done.stderr
    assert hook.posted  # delivered
    assert SECRET not in done.stdout + done.stderr


def test_delivery_errors_carry_no_secret() -> None:
    from tracker.deliver import post_webhook

    with pytest.raises(TrackerError) as caught:
        post_webhook(f"http://bot:{SECRET}@127.0.0.1:9/hook", {}, timeout=2)
    assert "cannot POST" in str(caught.value)
    assert SECRET not in str(caught.value)


# -- property-based: price parsing ----------------------------------------------------------------


def grouped(amount: Decimal, thousands: str, decimal: str) -> str:
    text = f"{amount:,.2f}"
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


NBSP, NNBSP = "\u00a0", "\u202f"
FORMATS = {
    "us": (lambda d: "$" + grouped(d, ",", "."), "en-US", "USD"),
    "de": (lambda d: grouped(d, ".", ",") + " €", "de-DE", "EUR"),
    "de-nbsp": (lambda d: grouped(d, ".", ",") + NBSP + "€", "de-DE", "EUR"),
    "gb": (lambda d: "£" + grouped(d, ",", "."), "en-GB", "GBP"),
    "pl": (lambda d: grouped(d, " ", ",") + " zł", "pl-PL", "PLN"),
    "pl-nbsp": (lambda d: grouped(d, NBSP, ",") + NBSP + "zł", "pl-PL", "PLN"),
    "pl-narrow": (lambda d: grouped(d, NNBSP, ",") + " zł", "pl-PL", "PLN"),
}

amounts = st.integers(min_value=1, max_value=99_999_999_999).map(
    lambda cents: (Decimal(cents) / 100).quantize(Decimal("0.01"))
)


def visible_price_page(text: str, lang: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>Amp</title>'
        '</head><body><main><div class="product"><h1>Amp</h1>'
        f'<p class="price">{text}</p><button type="submit">Add to cart</button></div></main>'
        "</body></html>"
    )


@settings(max_examples=150, deadline=None)
@given(amount=amounts, style=st.sampled_from(sorted(FORMATS)))
@example(amount=Decimal("1299.00"), style="us")
@example(amount=Decimal("1299.00"), style="de")
@example(amount=Decimal("12.50"), style="gb")
@example(amount=Decimal("1299.00"), style="pl")
def test_visible_prices_parse_to_the_same_decimal(amount: Decimal, style: str) -> None:
    fmt, lang, currency = FORMATS[style]
    text = fmt(amount)
    offer = extract(visible_price_page(text, lang).encode())
    assert (offer.price, offer.currency) == (amount, currency), text


@settings(max_examples=100, deadline=None)
@given(amount=amounts, as_number=st.booleans())
@example(amount=Decimal("1299.00"), as_number=False)
def test_json_ld_prices_parse_to_the_same_decimal(amount: Decimal, as_number: bool) -> None:
    price: Any = float(amount) if as_number and amount < 10**9 else str(amount)
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Amp",
        "offers": {"@type": "Offer", "price": price, "priceCurrency": "USD"},
    }
    offer = extract(product_page("Amp", "x", jsonld=json.dumps(data), visible="").encode())
    assert (offer.price, offer.currency, offer.method) == (amount, "USD", "json-ld")


# -- fuzz: extraction never raises ----------------------------------------------------------------

SEED_PAGE = product_page("Fuzz Amp", "249.00", extra="<ul><li>$19.99</li></ul>").encode()


@st.composite
def mutated_pages(draw: st.DrawFn) -> bytes:
    page = bytearray(SEED_PAGE)
    for _ in range(draw(st.integers(0, 8))):
        where = draw(st.integers(0, len(page)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if action == "flip" and where < len(page):
            page[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del page[where : where + draw(st.integers(1, 200))]
        elif action == "insert":
            page[where:where] = draw(
                st.sampled_from(
                    [
                        b"<script type='application/ld+json'>{",
                        b"</script>",
                        b"<",
                        b"\x00",
                        b"\xff\xfe",
                        b'"price": "',
                        b"<div>" * 50,
                        b"]]>",
                        b"&#x",
                        b"\xe2\x82",
                    ]
                )
            )
        else:
            del page[where:]
    return bytes(page)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(mutated_pages(), st.binary(max_size=2000), st.text(max_size=2000)),
    content_type=st.sampled_from(
        [None, "text/html", "text/html; charset=utf-16", "text/html; charset=bogus-42"]
    ),
)
def test_extraction_never_raises_on_random_or_mutated_pages(
    body: bytes | str, content_type: str | None
) -> None:
    offer = extract(body, url="http://127.0.0.1/p/x", content_type=content_type)
    assert isinstance(offer, Offer)
    if offer.price is not None:
        assert offer.price > 0 and offer.status is PageStatus.ok
