"""The editors' report: what changed, what broke, what needs a human.

``build_report`` reads the history for a time window and returns a ``Report``;
``render_report`` turns it into HTML (self-contained: inline CSS and SVG, no
script), Markdown, CSV or JSON. Every scraped string is escaped by the format's
own rules; nothing scraped is used as template source.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tracker.charts import Series, Span, price_chart_svg
from tracker.config import Config
from tracker.errors import RenderError
from tracker.money import format_amount
from tracker.render import atomic_write, markdown_escape, safe_url, template_env
from tracker.store import FailingListing, QuarantineItem, StaleListing, Store

__all__ = ["FORMATS", "Report", "build_report", "render_report", "write_failing_pages"]

FORMATS = ("html", "md", "csv", "json")
LOW_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class PriceChange:
    product_id: str
    product: str
    retailer: str
    url: str
    at: datetime
    old: Decimal
    new: Decimal
    currency: str | None

    @property
    def delta(self) -> Decimal:
        return self.new - self.old

    @property
    def percent(self) -> Decimal | None:
        return (self.delta / self.old * 100).quantize(Decimal("0.1")) if self.old else None


@dataclass(frozen=True, slots=True)
class AvailabilityChange:
    product_id: str
    product: str
    retailer: str
    url: str
    at: datetime
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class NewLow:
    product_id: str
    product: str
    retailer: str
    at: datetime
    price: Decimal
    currency: str | None
    kind: str  # "all-time" or "30-day"
    previous_low: Decimal | None


@dataclass(frozen=True, slots=True)
class GuideRender:
    guide_id: str
    at: datetime
    files: tuple[str, ...]
    changes: tuple[dict[str, Any], ...]  # product, before, after


@dataclass(frozen=True, slots=True)
class Chart:
    product_id: str
    product: str
    svg: str


@dataclass(slots=True)
class Report:
    since: datetime
    until: datetime
    timezone: str
    quarantined: list[QuarantineItem] = field(default_factory=list)
    price_changes: list[PriceChange] = field(default_factory=list)
    availability_changes: list[AvailabilityChange] = field(default_factory=list)
    renders: list[GuideRender] = field(default_factory=list)
    new_lows: list[NewLow] = field(default_factory=list)
    failing: list[FailingListing] = field(default_factory=list)
    stale: list[StaleListing] = field(default_factory=list)
    # listing id -> file name of its saved failing page, written beside the report
    page_files: dict[int, str] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)

    def local(self, t: datetime | None) -> str:
        if t is None:
            return "never"
        return t.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M %Z")

    @property
    def band_changes(self) -> list[tuple[GuideRender, dict[str, Any]]]:
        return [
            (r, c)
            for r in self.renders
            for c in r.changes
            if c.get("before") is not None
            and c["before"].get("band") != (c.get("after") or {}).get("band")
        ]

    def counts(self) -> dict[str, int]:
        return {
            "quarantined": len(self.quarantined),
            "price_changes": len(self.price_changes),
            "availability_changes": len(self.availability_changes),
            "band_changes": len(self.band_changes),
            "guides_rerendered": len(self.renders),
            "new_lows": len(self.new_lows),
            "failing": len(self.failing),
            "stale": len(self.stale),
        }


def build_report(
    config: Config, store: Store, *, since: datetime, until: datetime, charts: bool = True
) -> Report:
    """Everything the editors need to know about ``[since, until)``."""
    report = Report(since=since, until=until, timezone=config.report.timezone)
    names = {p.id: p.name for p in config.products}
    report.quarantined = store.quarantined()
    history = store.observation_history(changed_since=since)
    changed_products: set[str] = set()
    for (product_id, retailer, url), rows in history.items():
        name = names.get(product_id, product_id)
        published = [r for r in rows if not r.held]
        for before, after in itertools.pairwise(published):
            if not since <= after.first_seen < until:
                continue
            changed_products.add(product_id)
            if before.price is not None and after.price is not None and before.price != after.price:
                report.price_changes.append(
                    PriceChange(
                        product_id,
                        name,
                        retailer,
                        url,
                        after.first_seen,
                        before.price,
                        after.price,
                        after.currency,
                    )
                )
            if before.availability != after.availability:
                report.availability_changes.append(
                    AvailabilityChange(
                        product_id,
                        name,
                        retailer,
                        url,
                        after.first_seen,
                        before.availability,
                        after.availability,
                    )
                )
        report.new_lows.extend(_new_lows(product_id, name, retailer, rows, since, until))
        if any(since <= r.first_seen < until for r in rows):
            changed_products.add(product_id)
    report.renders = [
        GuideRender(
            r.guide_id, r.rendered_at, tuple(json.loads(r.files)), tuple(json.loads(r.changes))
        )
        for r in store.renders(since=since, until=until)
    ]
    report.failing = store.failing()
    report.stale = store.stale(before=until - config.report.stale_after)
    report.price_changes.sort(key=lambda c: (c.at, c.product_id))
    report.availability_changes.sort(key=lambda c: (c.at, c.product_id))
    report.new_lows.sort(key=lambda c: (c.at, c.product_id))
    if charts:
        wanted = changed_products | {q.product_id for q in report.quarantined}
        report.charts = _charts(config, store, wanted, since=since, until=until)
    return report


def _new_lows(
    product_id: str, name: str, retailer: str, rows: list[Any], since: datetime, until: datetime
) -> list[NewLow]:
    lows = []
    for i, row in enumerate(rows):
        if row.price is None or row.held or not since <= row.first_seen < until:
            continue
        earlier = [r for r in rows[:i] if r.price is not None and r.currency == row.currency]
        if not earlier:
            continue  # a first price is not a "new low"
        all_time = min(r.price for r in earlier)
        if row.price < all_time:
            lows.append(
                NewLow(
                    product_id,
                    name,
                    retailer,
                    row.first_seen,
                    row.price,
                    row.currency,
                    "all-time",
                    all_time,
                )
            )
            continue
        recent = [r.price for r in earlier if r.last_seen >= row.first_seen - LOW_WINDOW]
        if recent and row.price < min(recent):
            lows.append(
                NewLow(
                    product_id,
                    name,
                    retailer,
                    row.first_seen,
                    row.price,
                    row.currency,
                    "30-day",
                    min(recent),
                )
            )
    return lows


def _charts(
    config: Config, store: Store, product_ids: set[str], *, since: datetime, until: datetime
) -> list[Chart]:
    """One chart per product, in its guide's currency: the last 30 days at most."""
    thresholds: dict[str, list[tuple[Decimal, str]]] = defaultdict(list)
    currency_of: dict[str, str] = {}
    for guide in config.guides:
        for pid in guide.products:
            currency_of.setdefault(pid, guide.currency)
            for limit, label in zip(guide.bands.limits, guide.bands.labels[1:], strict=True):
                entry = (limit, f"{label} from {format_amount(limit, guide.currency)}")
                if entry not in thresholds[pid]:
                    thresholds[pid].append(entry)
    charts = []
    for product in config.products:
        if product.id not in product_ids:
            continue
        history = {
            retailer: [r for r in rows if not r.held]
            for (_pid, retailer, _url), rows in store.observation_history(
                product_ids=[product.id]
            ).items()
        }
        priced = [r for rows in history.values() for r in rows if r.currency]
        if not priced:
            continue
        currency = currency_of.get(product.id) or priced[0].currency
        first = min(r.first_seen for rows in history.values() for r in rows)
        start = min(since, max(first, until - LOW_WINDOW))
        series, others = [], []
        for retailer, rows in history.items():
            if any(r.currency and r.currency != currency for r in rows):
                others.append(retailer)
                continue
            ends = [x.first_seen for x in rows[1:]] + [until]
            spans = [
                Span(
                    start=max(r.first_seen, start),
                    end=min(end, until),
                    price=r.price,
                    in_stock=r.purchasable,
                )
                for r, end in zip(rows, ends, strict=True)
                if end > start
            ]
            if spans:
                series.append(Series(label=retailer, spans=spans))
        if not series:
            continue
        title = f"{product.name}: price history in {currency}"
        if others:
            title += f" (not drawn, other currency: {', '.join(others)})"
        svg = price_chart_svg(
            series, start=start, end=until, thresholds=thresholds.get(product.id, []), title=title
        )
        charts.append(Chart(product.id, title, svg))
    return charts


# -- output ----------------------------------------------------------------------------------------


def render_report(report: Report, config: Config, *, fmt: str) -> str:
    """The report as text in ``fmt`` (html, md, csv or json)."""
    if fmt == "json":
        return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(report)
    if fmt not in ("html", "md"):
        raise RenderError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    env = template_env(config)
    try:
        template = env.get_template(f"report.{fmt}.j2")
        return template.render(
            r=report,
            counts=report.counts(),
            money=format_amount,
            md=markdown_escape,
            safe_url=safe_url,
            local=report.local,
        )
    except Exception as exc:  # jinja2 errors carry the template line
        raise RenderError(f"cannot render the {fmt} report: {exc}") from exc


def report_json(report: Report) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    price_changes = [
        asdict(c) | {"delta": c.delta, "percent": c.percent} for c in report.price_changes
    ]
    data: dict[str, Any] = clean(
        {
            "since": report.since,
            "until": report.until,
            "counts": report.counts(),
            "quarantined": [asdict(q) for q in report.quarantined],
            "price_changes": price_changes,
            "availability_changes": [asdict(c) for c in report.availability_changes],
            "band_changes": [
                {"guide": r.guide_id, "at": r.at, **c} for r, c in report.band_changes
            ],
            "guides_rerendered": [asdict(r) for r in report.renders],
            "new_lows": [asdict(n) for n in report.new_lows],
            "failing": [
                asdict(f) | {"page_file": report.page_files.get(f.listing_id)}
                for f in report.failing
            ],
            "stale": [asdict(s) for s in report.stale],
        }
    )
    return data


def _csv(report: Report) -> str:
    """One row per item, the section in the first column."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        ["section", "product", "retailer", "time", "old", "new", "currency", "detail", "url"]
    )

    def row(*cells: Any) -> None:
        # a spreadsheet must not evaluate scraped text as a formula
        w.writerow([_csv_cell(c) for c in cells])

    for q in report.quarantined:
        row(
            "quarantined",
            q.product_id,
            q.retailer,
            q.detected_at,
            q.old_price,
            q.new_price,
            q.new_currency,
            f"#{q.id}: {q.reason}",
            q.url,
        )
    for c in report.price_changes:
        row(
            "price",
            c.product_id,
            c.retailer,
            c.at,
            c.old,
            c.new,
            c.currency,
            f"{c.percent:+}%" if c.percent is not None else "",
            c.url,
        )
    for a in report.availability_changes:
        row("availability", a.product_id, a.retailer, a.at, a.old, a.new, "", "", a.url)
    for r, ch in report.band_changes:
        row(
            "band",
            ch["product"],
            "",
            r.at,
            (ch.get("before") or {}).get("band"),
            (ch.get("after") or {}).get("band"),
            "",
            f"guide {r.guide_id}",
            "",
        )
    for n in report.new_lows:
        row(
            "new_low",
            n.product_id,
            n.retailer,
            n.at,
            n.previous_low,
            n.price,
            n.currency,
            n.kind,
            "",
        )
    for f in report.failing:
        row(
            "failing",
            f.product_id,
            f.retailer,
            f.since,
            f.last_good_price,
            "",
            f.currency,
            f"{f.kind} x{f.consecutive}: {f.error or ''}",
            f.url,
        )
    for s in report.stale:
        row("stale", s.product_id, s.retailer, s.last_success, "", "", "", "", s.url)
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = str(value)
    return (
        "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _numeric(text) else text
    )


def _numeric(text: str) -> bool:
    try:
        Decimal(text.rstrip("%"))
    except ArithmeticError:
        return False
    return True


def write_failing_pages(report: Report, store: Store, folder: Path) -> Report:
    """Write each failing listing's saved page as text next to the report."""
    for f in report.failing:
        page = store.failure_page(f.listing_id)
        if page is not None:
            path = folder / f"listing-{f.listing_id}-{f.kind}.html.txt"
            atomic_write(path, page)
            report.page_files[f.listing_id] = path.name
    return report
