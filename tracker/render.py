"""Render guides: the Quick Picks table's price range and Buy columns and the
"as of" line, as whole files from jinja2 templates or in place inside existing
articles.

A guide is re-rendered only when something a reader sees has changed (a band, a
Buy link, an availability, the editorial text, the template) or when its "as
of" line has grown older than ``refresh_after``. Files are written atomically
(a temporary file, then a rename) and only when their bytes change, so the
publishing pipeline sees no half-written file and no needless update.

Scraped values reach templates only as data, autoescaped in HTML and escaped
for Markdown; they are never used as template source.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from tracker.amazon import amazon_disclaimer
from tracker.bands import AVAILABLE, UNAVAILABLE, CurrentListing, ProductView, product_view
from tracker.config import Config, Guide
from tracker.errors import RenderError
from tracker.money import format_amount
from tracker.schema import GuideState
from tracker.store import RenderedGuide, Store

__all__ = [
    "GuideView",
    "RenderResult",
    "atomic_write",
    "atomic_write_many",
    "build_view",
    "guide_views",
    "render_guides",
    "update_markers",
]

log = logging.getLogger(__name__)

WRITTEN, UNCHANGED, OUTDATED = "written", "unchanged", "outdated"
# a template that uses one of these shows exact prices, not only bands
_EXACT_PRICES = re.compile(r"\b(product_jsonld|low_price|high_price|offer_count)\b|\.price\b")
CHUNK = 250  # guides read, and their states saved, per database round trip


@dataclass(frozen=True, slots=True)
class GuideView:
    guide: Guide
    products: tuple[ProductView, ...]
    as_of: datetime | None
    generated_at: datetime

    @property
    def amazon_marketplaces(self) -> tuple[str, ...]:
        """The Amazon marketplaces whose prices or availability the guide shows."""
        return tuple(sorted({m for p in self.products for m in p.amazon_marketplaces}))

    @property
    def amazon_disclaimer(self) -> str | None:
        """Amazon's disclaimer, when the guide shows a price or availability from its API."""
        markets = self.amazon_marketplaces
        return amazon_disclaimer(markets) if markets else None

    def fingerprint(self, template_sources: Iterable[str] = ()) -> str:
        """A hash of everything a reader sees except the as-of time.

        Exact prices count only when a template shows them (the built-in HTML
        template does, in its schema.org data): a guide that shows bands alone is
        not rewritten when a price moves inside its band.
        """
        sources = list(template_sources)
        data: list[object] = [
            self.guide.title,
            self.guide.disclaimer,
            [p.display() for p in self.products],
        ]
        if self.amazon_marketplaces:  # the Amazon disclaimer appears, goes or changes
            data.append(list(self.amazon_marketplaces))
        if any(_EXACT_PRICES.search(source) for source in sources):
            data.append([(p.low_price, p.high_price, p.offer_count) for p in self.products])
        digest = hashlib.sha256(json.dumps(data, default=str).encode())
        for source in sources:
            digest.update(source.encode())
        return digest.hexdigest()

    def as_of_text(self) -> str:
        if self.as_of is None:
            return "not yet checked"
        local = self.as_of.astimezone(ZoneInfo(self.guide.timezone))
        return local.strftime(self.guide.as_of_format)


@dataclass(slots=True)
class RenderResult:
    """What rendering did, per guide: each output path with ``written``,
    ``unchanged`` or (``--check``) ``outdated``."""

    files: dict[str, list[tuple[Path, str]]] = field(default_factory=dict)

    @property
    def written(self) -> list[Path]:
        return [p for items in self.files.values() for p, what in items if what == WRITTEN]

    @property
    def outdated(self) -> list[Path]:
        return [p for items in self.files.values() for p, what in items if what == OUTDATED]


def build_view(
    config: Config,
    guide: Guide,
    store: Store,
    *,
    now: datetime,
    previous_bands: Mapping[str, int] | None = None,
) -> GuideView:
    """What ``guide`` shows at ``now``."""
    listings = store.current_listings(guide.products)
    return _view(config, guide, listings, now=now, previous_bands=previous_bands)


def guide_views(
    config: Config,
    store: Store,
    guides: Sequence[Guide],
    *,
    now: datetime,
    chunk: int = CHUNK,
) -> Iterator[tuple[GuideView, GuideState | None]]:
    """What each guide shows at ``now``, with what it last showed (its state).

    The guides are read ``chunk`` at a time: one query for their states and one for
    their listings, whatever the number of guides in the chunk.
    """
    for start in range(0, len(guides), chunk):
        part = guides[start : start + chunk]
        states = store.guide_states([g.id for g in part])
        listings = store.current_listings({pid: None for g in part for pid in g.products})
        for guide in part:
            state = states.get(guide.id)
            previous = shown_bands(state.bands if state else None)
            yield _view(config, guide, listings, now=now, previous_bands=previous), state


def _view(
    config: Config,
    guide: Guide,
    listings: Mapping[str, list[CurrentListing]],
    *,
    now: datetime,
    previous_bands: Mapping[str, int] | None,
) -> GuideView:
    amazon = config.amazon_listings()
    previous = previous_bands or {}
    views = []
    for pid in guide.products:
        rows = listings.get(pid, [])
        if amazon:
            rows = [
                replace(x, marketplace=amazon[pid, x.url].marketplace)
                if (pid, x.url) in amazon
                else x
                for x in rows
            ]
        views.append(
            product_view(guide, config.product(pid), rows, now=now, previous_band=previous.get(pid))
        )
    times = [v.checked_at for v in views if v.checked_at is not None]
    return GuideView(
        guide=guide, products=tuple(views), as_of=min(times) if times else None, generated_at=now
    )


def render_guides(
    config: Config,
    store: Store,
    *,
    now: datetime,
    only: Iterable[str] | None = None,
    force: bool = False,
    check: bool = False,
) -> RenderResult:
    """Re-render the guides whose displayed values changed (all with ``force``).

    With ``check``, nothing is written: outputs that would change are reported
    ``outdated``. What each guide showed is saved a chunk of guides at a time,
    right after that chunk's files are written.
    """
    wanted = set(only) if only is not None else None
    guides = [g for g in config.guides if wanted is None or g.id in wanted]
    env = template_env(config)
    sources: dict[str, tuple[jinja2.Template, str]] = {}
    result = RenderResult()
    saved: list[RenderedGuide] = []
    pending: list[tuple[Path, bytes]] = []  # files to write, with the states in `saved`

    def flush() -> None:
        atomic_write_many(pending)  # the files first: a state never claims an unwritten file
        for path, _ in pending:
            log.info("wrote %s", path)
        store.save_renders(saved, now=now)
        saved.clear()
        pending.clear()

    for view, state in guide_views(config, store, guides, now=now):
        for out in view.guide.outputs:
            if out.template not in sources:
                template = _template(env, out.template)
                sources[out.template] = (template, _source(env, template))
        files, rendered = _render_guide(view, state, sources, now, force, check, pending)
        result.files[view.guide.id] = files
        if rendered is not None:
            saved.append(rendered)
        if len(saved) >= CHUNK:
            flush()
    flush()
    return result


def _render_guide(
    view: GuideView,
    state: GuideState | None,
    templates: Mapping[str, tuple[jinja2.Template, str]],
    now: datetime,
    force: bool,
    check: bool,
    pending: list[tuple[Path, bytes]],
) -> tuple[list[tuple[Path, str]], RenderedGuide | None]:
    guide = view.guide
    shown = _shown(state.bands if state else None)
    used = [templates[out.template] for out in guide.outputs]
    fingerprint = view.fingerprint(source for _, source in used)
    due = (
        force
        or state is None
        or state.fingerprint != fingerprint
        or state.as_of is None
        or (view.as_of is not None and now - state.as_of >= guide.refresh_after)
        or any(not out.path.exists() for out in guide.outputs)
    )
    if not due:  # nothing a reader sees has changed: leave every file as it is
        files = [(out.path, UNCHANGED) for out in guide.outputs]
        return files + [(path, UNCHANGED) for path in guide.inplace], None
    files = []
    for out, (template, _) in zip(guide.outputs, used, strict=True):
        text = _render(template, view, fmt=_format_of(out.path))
        files.append((out.path, _write(out.path, text, check=check, pending=pending)))
    for path in guide.inplace:
        try:
            original = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RenderError(f"guide {guide.id}: cannot read {path}: {exc.strerror}") from exc
        text = update_markers(original, view, fmt=_format_of(path), source=str(path))
        files.append((path, _write(path, text, check=check, pending=pending)))
    if check:
        return files, None
    now_shown = {p.product.id: _display(p) for p in view.products}
    for pid, d in now_shown.items():
        # a product with no current price keeps its last band for hysteresis
        if d["band_index"] is None and pid in shown:
            d["band_index"] = shown[pid].get("band_index")
    written = [str(path) for path, what in files if what == WRITTEN]
    changes = [
        {"product": pid, "before": shown.get(pid), "after": d}
        for pid, d in now_shown.items()
        if _visible(shown.get(pid)) != _visible(d)
    ]
    return files, RenderedGuide(
        guide_id=guide.id,
        fingerprint=fingerprint,
        bands=json.dumps(now_shown),
        as_of=view.as_of,
        changes=changes,
        files=written,
    )


def _display(p: ProductView) -> dict[str, Any]:
    return {
        "band_index": p.band_index,
        "band": p.band,
        "status": p.status,
        "retailer": p.best.listing.retailer if p.best else None,
        "buy": p.best.buy_url if p.best else None,
    }


def _visible(d: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    if d is None:
        return None
    return (d.get("band"), d.get("status"), d.get("retailer"), d.get("buy"))


def shown_bands(raw: str | None) -> dict[str, int]:
    """The band index each product last showed (the basis for hysteresis)."""
    return {
        pid: d["band_index"] for pid, d in _shown(raw).items() if d.get("band_index") is not None
    }


def _shown(raw: str | None) -> dict[str, dict[str, Any]]:
    """What the guide last showed, per product."""
    if not raw:
        return {}
    data = json.loads(raw)
    return {
        pid: value if isinstance(value, dict) else {"band_index": value}
        for pid, value in data.items()
    }


# -- templates -----------------------------------------------------------------------------------


def template_env(config: Config) -> jinja2.Environment:
    """Templates from the configured folder first, then the built-in ones."""
    loaders: list[jinja2.BaseLoader] = []
    if config.templates is not None:
        loaders.append(jinja2.FileSystemLoader(str(config.templates)))
    loaders.append(jinja2.PackageLoader("tracker", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "htm", "html.j2", "htm.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = markdown_escape
    env.filters["money"] = lambda amount, currency=None: format_amount(amount, currency)
    env.filters["jsonld"] = jsonld
    env.filters["safe_url"] = safe_url
    env.globals["product_jsonld"] = product_jsonld
    return env


def _template(env: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(
            f"template {name!r} not found in the templates folder or the built-in templates"
        ) from exc
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"template {name}, line {exc.lineno}: {exc.message}") from exc


def _source(env: jinja2.Environment, template: jinja2.Template) -> str:
    assert env.loader is not None and template.name is not None
    source, _, _ = env.loader.get_source(env, template.name)
    return source


def _render(template: jinja2.Template, view: GuideView, *, fmt: str) -> str:
    try:
        return template.render(
            guide=view.guide,
            view=view,
            products=view.products,
            as_of=view.as_of_text(),
            amazon_disclaimer=view.amazon_disclaimer,
            fmt=fmt,
        )
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {template.name}: {exc}") from exc


def _format_of(path: Path) -> str:
    return "md" if path.suffix.lower() in (".md", ".markdown") else "html"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def markdown_escape(value: object) -> str:
    """Escape text for Markdown so scraped text cannot add links, HTML or tables."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text).replace("&", "&amp;")


def safe_url(value: object) -> str:
    """Only http(s) URLs become links; anything else (``javascript:``) becomes ``#``."""
    url = str(value).strip()
    try:
        scheme = urlsplit(url).scheme
    except ValueError:  # e.g. "http://[oops/"
        return "#"
    return url if scheme in ("http", "https") else "#"


def jsonld(value: Any) -> Markup:
    """JSON for a ``<script type="application/ld+json">`` block that no text can close.

    One line per item: ``indent`` would bypass json's C encoder (a third of the time
    of rendering 1,000 guides went to indenting JSON-LD no reader sees)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def product_jsonld(view: GuideView) -> list[dict[str, Any]]:
    """schema.org Product data for the products that have a current price.

    An ``AggregateOffer`` (lowPrice, highPrice, offerCount) when several shops have
    it, an ``Offer`` when one does; no ``priceValidUntil`` is invented. Products
    without a current price get none: a Product without an offer is not valid for
    Google's product snippets.
    """
    items = []
    for p in view.products:
        if p.best is None or p.low_price is None or p.high_price is None:
            continue
        currency = view.guide.currency
        offer: dict[str, Any]
        if p.offer_count > 1:
            offer = {
                "@type": "AggregateOffer",
                "lowPrice": format_amount(p.low_price, currency),
                "highPrice": format_amount(p.high_price, currency),
                "offerCount": p.offer_count,
                "priceCurrency": currency,
                "availability": "https://schema.org/InStock",
            }
        else:
            offer = {
                "@type": "Offer",
                "price": format_amount(p.low_price, currency),
                "priceCurrency": currency,
                "availability": "https://schema.org/InStock",
                "url": safe_url(p.best.buy_url),
                "seller": {"@type": "Organization", "name": p.best.listing.retailer},
            }
        items.append(
            {
                "@context": "https://schema.org",
                "@type": "Product",
                "name": p.product.name,
                "offers": offer,
            }
        )
    return items


# -- in place --------------------------------------------------------------------------------------

_MARKER = re.compile(
    r"(?P<open><!--\s*tracker:(?P<field>[a-z-]+)(?:\s+(?P<product>[a-z0-9._-]+))?\s*-->)"
    r"(?P<body>.*?)"
    r"(?P<close><!--\s*/tracker\s*-->)",
    re.DOTALL,
)
FIELDS = ("band", "buy", "availability", "as-of", "amazon-disclaimer")


def update_markers(text: str, view: GuideView, *, fmt: str, source: str = "<text>") -> str:
    """Replace the content between ``<!-- tracker:FIELD PRODUCT -->`` and
    ``<!-- /tracker -->``; every other byte stays as it was."""
    products = {p.product.id: p for p in view.products}

    def replace(match: re.Match[str]) -> str:
        name, pid = match["field"], match["product"]
        line = text.count("\n", 0, match.start()) + 1
        if name not in FIELDS:
            raise RenderError(
                f"{source}, line {line}: unknown marker tracker:{name} (known: {', '.join(FIELDS)})"
            )
        if name == "as-of":
            value = _esc(view.as_of_text(), fmt)
        elif name == "amazon-disclaimer":  # empty unless an Amazon price is shown
            value = _esc(view.amazon_disclaimer or "", fmt)
        else:
            if pid is None or pid not in products:
                raise RenderError(
                    f"{source}, line {line}: tracker:{name} needs one of this guide's products "
                    f"({', '.join(products)}), got {pid!r}"
                )
            value = _cell(name, products[pid], fmt)
        return match["open"] + value + match["close"]

    return _MARKER.sub(replace, text)


def _esc(value: str, fmt: str) -> str:
    return markdown_escape(value) if fmt == "md" else str(escape(value))


def _cell(name: str, p: ProductView, fmt: str) -> str:
    if name == "band":
        return _esc(p.band or "—", fmt)
    if name == "availability":
        return {AVAILABLE: "In stock", UNAVAILABLE: "Currently unavailable"}.get(p.status, "—")
    # buy
    if p.best is None:
        return "Currently unavailable" if p.status == UNAVAILABLE else "—"
    label = f"Buy at {p.best.listing.retailer}"
    url = safe_url(p.best.buy_url)
    if fmt == "md":
        return f"[{markdown_escape(label)}](<{url.replace('>', '%3E')}>)"
    return f'<a href="{escape(url)}" rel="sponsored nofollow">{escape(label)}</a>'


# -- writing ---------------------------------------------------------------------------------------


def _write(path: Path, text: str, *, check: bool, pending: list[tuple[Path, bytes]]) -> str:
    """Compare ``text`` with the file at ``path``; queue it in ``pending`` if it differs."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return UNCHANGED
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise RenderError(f"cannot read {path}: {exc.strerror}") from exc
    if check:
        return OUTDATED
    pending.append((path, data))
    return WRITTEN


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    atomic_write_many([(path, data)])


def atomic_write_many(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write each file atomically (readers see the old file or the new one, never half).

    Every new version is written to a temporary file beside its target first, then
    all are flushed to disk, then each is renamed over its target. A few files are
    flushed one by one; a batch of ``FLUSH_WHOLE_DISK`` or more is flushed with one
    ``syncfs`` per file system (Linux), which costs one wait instead of one per file
    (2,000 files: 0.02 s against 0.4 s). On an error no target is touched by the file
    that failed, and no temporary file is left behind.
    """
    staged: list[tuple[Path, str, int]] = []  # target, temporary file, open descriptor
    renamed = 0
    current: Path | None = None
    made: set[Path] = set()  # folders known to exist
    try:
        for path, data in files:
            current = path
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((path, tmp, fd))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            try:
                mode = path.stat().st_mode & 0o777
            except FileNotFoundError:
                mode = 0o644
            os.fchmod(fd, mode)
        _flush_to_disk(staged)
        for path, tmp, _ in staged:
            current = path
            os.replace(tmp, path)
            renamed += 1
    except OSError as exc:
        raise RenderError(f"cannot write {current}: {exc.strerror or exc}") from exc
    finally:
        for i, (_, tmp, fd) in enumerate(staged):
            os.close(fd)
            if i >= renamed:  # not renamed: an error came first
                Path(tmp).unlink(missing_ok=True)


FLUSH_WHOLE_DISK = 32  # staged files from which one flush per file system beats one per file


def _flush_to_disk(staged: Sequence[tuple[Path, str, int]]) -> None:
    """Flush the staged files' contents to disk before they are renamed into place."""
    syncfs = _syncfs() if len(staged) >= FLUSH_WHOLE_DISK else None
    if syncfs is None:
        for _, _, fd in staged:
            os.fsync(fd)
        return
    by_device: dict[int, int] = {}  # one descriptor per file system
    for _, _, fd in staged:
        by_device.setdefault(os.fstat(fd).st_dev, fd)
    for fd in by_device.values():
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """Linux's ``syncfs(2)``: flush one file system; None where the C library lacks it."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
