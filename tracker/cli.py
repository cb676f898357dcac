"""The command line: parse arguments, call one library function, turn errors into
messages and exit codes.

Exit codes: 0 success; 1 some listings failed (``run``) or some inputs did
(``check``); 2 configuration or usage error; 3 internal error (a bug: please
report it with the log).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from tracker import __version__
from tracker.config import Config, load_config
from tracker.errors import ConfigError, TrackerError
from tracker.memory import exit_without_teardown, one_malloc_arena

__all__ = ["entry", "main"]

EXIT_OK, EXIT_FAILURES, EXIT_CONFIG, EXIT_INTERNAL = 0, 1, 2, 3
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("tracker")


def _errors(fn: F) -> F:
    """Translate tracker errors into a message on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"tracker: configuration error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except TrackerError as exc:
            click.echo(f"tracker: {exc}", err=True)
            sys.exit(EXIT_INTERNAL)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception:
            log.exception("internal error")
            click.echo("tracker: internal error (traceback above); please report it", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.INFO if verbose == 0 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO; keep that for -vv
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)


class _Ctx:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


def entry() -> None:
    """The ``tracker`` command (and ``python -m tracker``): ``main``, then an exit that
    skips the interpreter's teardown (see ``exit_without_teardown``); every command has
    closed what it opened by then. An error that escapes ``main`` (a bug) ends the
    process the usual way, with its traceback."""
    try:
        main()
    except SystemExit as exc:
        status = exc.code
    else:  # (click's standalone mode always ends in SystemExit)
        status = 0
    if status is not None and not isinstance(status, int):
        click.echo(str(status), err=True)
        status = 1
    exit_without_teardown(status or 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracker")
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file (default: $TRACKER_CONFIG, else ./config.toml).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv: every request).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool) -> None:
    """Track prices and availability for buying guides."""
    one_malloc_arena()  # before any thread: see tracker.memory
    _setup_logging(verbose, quiet)
    ctx.obj = _Ctx(config_path)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--due", is_flag=True, help="Only the listings that are due (for cron and timers).")
@click.pass_obj
@_errors
def run(obj: _Ctx, as_json: bool, due: bool) -> None:
    """Check every active listing once and record the results.

    With --due, only the listings whose interval has passed, under leases that
    keep overlapping runs from checking a listing twice. Exit code 0 when every
    listing was checked, 1 when some failed.
    """
    from tracker.models import utc_now
    from tracker.pipeline import run_due, run_once
    from tracker.progress import RunProgress
    from tracker.publish import publish
    from tracker.store import open_store

    config = obj.config
    with open_store(config.tracker.database) as store:
        with RunProgress(enabled=not as_json) as p:
            runner = run_due if due else run_once
            summary = runner(config, store=store, on_result=p.on_result, on_start=p.on_start)
        published = publish(
            config, store, now=utc_now(), changed=bool(summary.new or summary.changed)
        )
    if as_json:
        data = summary.as_dict() | {"written": [str(p) for p in published.guides.written]}
        click.echo(json.dumps(data))
    else:
        click.echo(RunProgress.summary_line(summary))
        for line in published.lines():
            click.echo(line)
    sys.exit(summary.exit_code)


@main.command()
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when an output is out of date.")
@click.option("--force", is_flag=True, help="Re-render every guide even if nothing changed.")
@click.option(
    "--guide", "guides", multiple=True, metavar="ID", help="Only this guide (repeatable)."
)
@click.pass_obj
@_errors
def render(obj: _Ctx, check: bool, force: bool, guides: tuple[str, ...]) -> None:
    """Re-render the guides whose displayed values changed.

    A guide is rewritten when a band, a Buy link or an availability changed, or
    when its "as of" line is older than refresh_after; unchanged files keep
    their bytes and modification time. With --check, exit 1 when an output is
    out of date and 0 when all are current.
    """
    from tracker.models import utc_now
    from tracker.render import render_guides
    from tracker.store import open_store

    config = obj.config
    unknown = set(guides) - {g.id for g in config.guides}
    if unknown:
        known = ", ".join(g.id for g in config.guides) or "none configured"
        raise click.UsageError(f"unknown guide {sorted(unknown)[0]!r} (known: {known})")
    if not config.guides:
        click.echo("no [[guides]] in the configuration: nothing to render")
        return
    with open_store(config.tracker.database) as store:
        result = render_guides(
            config, store, now=utc_now(), only=guides or None, force=force, check=check
        )
    counts: dict[str, int] = {}
    for guide_id, files in result.files.items():
        for path, what in files:
            counts[what] = counts.get(what, 0) + 1
            if what != "unchanged":  # thousands of unchanged files would drown the news
                click.echo(f"{guide_id}: {what} {path}")
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "no files"
    n = len(result.files)
    click.echo(f"{n} guide{'' if n == 1 else 's'}: {summary}")
    sys.exit(EXIT_FAILURES if check and result.outdated else EXIT_OK)


@main.command()
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the feed (default: [tracker] feed, site/latest.json).",
)
@click.option(
    "--schema",
    "schema_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the feed's JSON Schema here.",
)
@click.pass_obj
@_errors
def export(obj: _Ctx, output: Path | None, schema_to: Path | None) -> None:
    """Write latest.json, the feed the publishing pipeline reads.

    The file is rewritten only when its content (all but generated_at) changed.
    """
    from tracker.feed import schema_text, write_feed
    from tracker.models import utc_now
    from tracker.render import atomic_write
    from tracker.store import open_store

    config = obj.config
    target = output or config.feed
    with open_store(config.tracker.database) as store:
        written = write_feed(config, store, now=utc_now(), path=target)
    click.echo(f"{'wrote' if written else 'unchanged'} {target}")
    if schema_to is not None:
        atomic_write(schema_to, schema_text().encode())
        click.echo(f"wrote {schema_to}")


@main.command()
@click.pass_obj
@_errors
def serve(obj: _Ctx) -> None:
    """Run as a daemon: check due listings, re-render, report, housekeeping.

    Runs until SIGTERM or SIGINT, then finishes the checks in flight and exits 0.
    """
    from tracker.serve import serve as run_daemon

    sys.exit(run_daemon(obj.config))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
@_errors
def status(obj: _Ctx, as_json: bool) -> None:
    """Show the last run, what is due, failing and stale listings, the next jobs.

    Exit code 1 when the last finished run is older than [schedule] alert_after
    (for monitoring), 0 otherwise.
    """
    from tracker.models import utc_now
    from tracker.serve import status_of
    from tracker.store import open_store

    config = obj.config
    now = utc_now()
    with open_store(config.tracker.database) as store:
        st = status_of(config, store, now=now)
    tz = ZoneInfo(config.tracker.timezone)

    def when(t: datetime | None) -> str:
        return t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if t else "never"

    if as_json:
        click.echo(
            json.dumps(
                {
                    "healthy": st.healthy,
                    "problem": st.problem,
                    "last_run": st.last_run.isoformat() if st.last_run else None,
                    "last_run_status": st.last_run_status,
                    "last_finished": st.last_finished.isoformat() if st.last_finished else None,
                    "listings": st.listings,
                    "due_now": st.due_now,
                    "failing": st.failing,
                    "stale": st.stale,
                    "next_jobs": {j.name: j.at.isoformat() if j.at else None for j in st.jobs},
                }
            )
        )
    else:
        click.echo(f"last run:       {when(st.last_run)} ({st.last_run_status or '-'})")
        click.echo(f"last finished:  {when(st.last_finished)}")
        click.echo(f"listings:       {st.listings} ({st.due_now} due now)")
        click.echo(f"failing:        {st.failing}")
        click.echo(f"stale:          {st.stale}")
        for job in st.jobs:
            click.echo(f"next {job.name}: {when(job.at) if job.at else 'daily'}")
        click.echo("healthy" if st.healthy else f"UNHEALTHY: {st.problem}")
    sys.exit(EXIT_OK if st.healthy else EXIT_FAILURES)


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="URL_OR_FILE_OR_ASIN...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input per line.")
@click.pass_obj
@_errors
def check(obj: _Ctx, inputs: tuple[str, ...], as_json: bool) -> None:
    """Extract price and availability from pages without touching the database.

    Each input is an http(s) URL, a saved HTML file or an Amazon ASIN. Amazon
    product URLs and ASINs are priced through the Creators API ([amazon]), never
    by fetching the page. Exit code 1 when any input could not be read.
    """
    from tracker.amazon import is_amazon_url
    from tracker.check import check as check_inputs
    from tracker.config import Config as _Config

    try:
        config = obj.config
    except ConfigError:
        pages = [i for i in inputs if i.startswith(("http://", "https://"))]
        if obj.config_path or any(not is_amazon_url(i) for i in pages):
            raise
        # local files need no configuration; Amazon inputs say how to configure [amazon]
        config = _Config(path=None)
    worst = EXIT_OK
    for report in check_inputs(list(inputs), config=config):
        if report.status == "error":
            worst = EXIT_FAILURES
        if as_json:
            click.echo(json.dumps(report.as_json(), ensure_ascii=False))
        else:
            click.echo(report.describe())
    sys.exit(worst)


@main.command()
@click.argument("product_id")
@click.option("--chart", is_flag=True, help="Also draw the history as a text chart.")
@click.pass_obj
@_errors
def history(obj: _Ctx, product_id: str, chart: bool) -> None:
    """Show a product's price history, one row per distinct state per listing."""
    from tracker.models import utc_now
    from tracker.progress import history_chart, history_table
    from tracker.store import open_store

    config = obj.config
    with open_store(config.tracker.database) as store:
        if not store.product_exists(product_id):
            known = ", ".join(p.id for p in config.products) or "none configured"
            raise click.UsageError(f"unknown product {product_id!r} (known: {known})")
        rows = store.history(product_id)
        states = store.observation_history(product_ids=[product_id]) if chart else {}
    history_table(product_id, rows, timezone=config.tracker.timezone)
    if chart and states:
        click.echo(history_chart(states, now=utc_now()))


@main.command()
@click.option(
    "--since",
    "since_text",
    metavar="WHEN",
    help='Start of the window: a date/time (2026-11-01T08:00Z) or a duration ("7d").',
)
@click.option("--since-last", is_flag=True, help="Start where the previous report ended.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "csv", "json"]),
    default="md",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (failing pages are saved beside it) instead of stdout.",
)
@click.option("--email", "email", is_flag=True, help="Send it by email ([report.email]).")
@click.option("--webhook", metavar="URL", help="POST the JSON report to URL.")
@click.pass_obj
@_errors
def report(
    obj: _Ctx,
    since_text: str | None,
    since_last: bool,
    fmt: str,
    output: Path | None,
    email: bool,
    webhook: str | None,
) -> None:
    """Write the editors' price-change report.

    Sections: changes held for review, price changes, availability changes,
    band changes and guides re-rendered, new lows, failing and stale listings,
    and (HTML) price-history charts. Default window: the last 24 hours.
    """
    from tracker.reporting import make_report

    if since_text and since_last:
        raise click.UsageError("give --since or --since-last, not both")
    result = make_report(
        obj.config,
        since=since_text,
        since_last=since_last,
        fmt=fmt,
        output=output,
        email=email,
        webhook=webhook,
    )
    if output is None:
        click.echo(result.text, nl=False)
    for line in result.lines:
        click.echo(line, err=output is None)


@main.command()
@click.argument("change_id", type=int)
@click.pass_obj
@_errors
def approve(obj: _Ctx, change_id: int) -> None:
    """Publish a change held for review (its ID is in the report)."""
    _decide(obj.config, change_id, approve=True)


@main.command()
@click.argument("change_id", type=int)
@click.pass_obj
@_errors
def reject(obj: _Ctx, change_id: int) -> None:
    """Discard a change held for review; the published value stays."""
    _decide(obj.config, change_id, approve=False)


def _decide(config: Config, change_id: int, *, approve: bool) -> None:
    from tracker.models import utc_now
    from tracker.publish import publish
    from tracker.store import open_store

    with open_store(config.tracker.database) as store:
        item = store.decide(change_id, approve=approve, now=utc_now())
        published = publish(config, store, now=utc_now(), changed=approve)
    click.echo(
        f"{item.status} change {item.id}: {item.product_id} @ {item.retailer} ({item.reason})"
    )
    for line in published.lines():
        click.echo(line)


@main.command()
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the demo's database, configuration and outputs.",
)
@click.option("--rounds", type=click.IntRange(1, 50), default=4, show_default=True)
@_errors
def demo(output: Path, rounds: int) -> None:
    """Run the whole pipeline offline against the simulated shops.

    Prices and stock change between rounds; the history lands in OUTPUT.
    """
    from tracker.demo import run_demo

    result = run_demo(output, rounds=rounds, echo=click.echo)
    sys.exit(EXIT_OK if result else EXIT_FAILURES)


@main.group()
def db() -> None:
    """Manage the history database."""


@db.command("copy")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="An empty database, e.g. postgresql+psycopg://user@host/tracker.",
)
@click.pass_obj
@_errors
def db_copy(obj: _Ctx, target: str) -> None:
    """Copy the whole history into another (empty) database.

    From SQLite to PostgreSQL when one machine is outgrown, or back. The target
    is migrated first; the copy is one transaction, so a failure keeps nothing.
    """
    from tracker.store import copy_database, open_store

    with open_store(obj.config.tracker.database) as source, open_store(target) as dest:
        copied = copy_database(source, dest)
        click.echo(f"copied {source.display_url} to {dest.display_url}:")
        for table, n in copied.items():
            click.echo(f"  {table}: {n} rows")


@db.command("upgrade")
@click.pass_obj
@_errors
def db_upgrade(obj: _Ctx) -> None:
    """Create the database or migrate it to the newest schema."""
    from tracker.store import open_store

    with open_store(obj.config.tracker.database) as store:
        click.echo(f"{store.display_url}: schema is up to date")


if __name__ == "__main__":  # pragma: no cover
    main()
