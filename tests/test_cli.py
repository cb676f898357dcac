"""The commands as the timer and editors use them: real processes, exit codes, output."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import click
import pytest

from tests.conftest import run_tracker as tracker
from tracker.cli import main
from tracker.demo import demo_config
from tracker.shops import Fault, ShopFarm, demo_specs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def farm() -> Iterator[ShopFarm]:
    with ShopFarm(demo_specs()) as f:
        yield f


@pytest.fixture
def config_file(farm: ShopFarm, tmp_path: Path) -> Path:
    farm.clear_faults()
    path = tmp_path / "config.toml"
    path.write_text(demo_config(farm, tmp_path / "history.sqlite3"))
    return path


def test_run_exit_codes_and_summary(farm: ShopFarm, config_file: Path) -> None:
    done = tracker("--config", str(config_file), "run")
    assert done.returncode == 0, done.stderr
    assert re.search(r"checked 8 listings: 0 changed, 8 new, 0 unchanged, 0 failed", done.stdout)
    # no terminal: one plain log line per listing
    assert done.stderr.count(" new ") == 8

    farm["Amazon-like"].set_fault(Fault.robot_check)
    done = tracker("--config", str(config_file), "run", "--json")
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    assert summary["failures"] == {"blocked": 2} and summary["unchanged"] == 6


def test_config_errors_exit_2_with_the_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text(
        '[[products]]\nid = "a"\nname = "A"\n[[products.listings]]\n'
        'retailer = "R"\nurl = "javascript:alert(1)"\n'
    )
    done = tracker("--config", str(bad), "run")
    assert done.returncode == 2
    assert "products[0].listings[0].url: must be an http(s) URL" in done.stderr
    assert not (tmp_path / "db").exists()  # nothing created on bad input

    env = {"TRACKER_CONFIG": str(tmp_path / "missing.toml"), "PATH": "/usr/bin:/bin"}
    done = tracker("run", env=env)
    assert done.returncode == 2 and "missing.toml: configuration file not found" in done.stderr


def test_check_json_one_line_per_input_in_order(
    farm: ShopFarm, config_file: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "saved.html"
    saved.write_bytes(farm["Shopify store"].page("schiit-magni-unity"))
    farm["WooCommerce store"].set_fault(Fault.not_found, sku="fiio-k7")
    inputs = [
        farm["TOPPING Direct"].url("topping-l50"),
        str(saved),
        farm["WooCommerce store"].url("fiio-k7"),
        str(tmp_path / "missing.html"),
        farm["Big Audio Mart"].url("schiit-magni-unity"),
    ]
    done = tracker("--config", str(config_file), "check", "--json", *inputs)
    assert done.returncode == 1  # one input could not be read
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [x["input"] for x in lines] == inputs
    assert [x["status"] for x in lines] == ["ok", "ok", "gone", "error", "ok"]
    first = lines[0]
    assert (Decimal(first["price"]), first["currency"], first["availability"]) == (
        farm["TOPPING Direct"].products["topping-l50"].price,
        "USD",
        "InStock",
    )
    assert set(first) >= {"input", "status", "price", "currency", "availability", "title", "method"}


def test_check_handles_hundreds_of_inputs(farm: ShopFarm, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(farm["Magento store"].page("rme-adi-2-dac-fs"))
    done = tracker("check", "--json", *[str(page)] * 300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 300
    assert {json.loads(line)["price"] for line in lines} == {"1299.00"}


def test_check_of_a_saved_page_says_one_line_and_loads_no_database_layer(
    farm: ShopFarm, tmp_path: Path
) -> None:
    """An editor's ``tracker check page.html`` answers in one line, and starts without
    SQLAlchemy (half a second of imports on a small machine) since it records nothing."""
    page = tmp_path / "page.html"
    page.write_bytes(farm["Magento store"].page("rme-adi-2-dac-fs"))
    probe = (
        "import sys\n"
        "from tracker.cli import main\n"
        "try:\n"
        f"    main(['check', {str(page)!r}])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print('exit', code, 'sqlalchemy' in sys.modules, 'alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    line, probed = done.stdout.splitlines()
    product = farm["Magento store"].products["rme-adi-2-dac-fs"]
    assert line.startswith(f"{page}: ok; price {product.price} ") and "; InStock;" in line, line
    assert probed == "exit 0 False False"


def test_history_shows_each_distinct_state(farm: ShopFarm, config_file: Path) -> None:
    assert tracker("--config", str(config_file), "run").returncode == 0
    shop = farm["TOPPING Direct"]
    old = shop.products["topping-l50"].price
    shop.set_price("topping-l50", Decimal("211.00"))
    try:
        assert tracker("--config", str(config_file), "run").returncode == 0
    finally:
        shop.set_price("topping-l50", old)
    done = tracker("--config", str(config_file), "history", "topping-l50")
    assert done.returncode == 0
    assert "211.00" in done.stdout and str(old) in done.stdout
    unknown = tracker("--config", str(config_file), "history", "nope")
    assert unknown.returncode == 2 and "unknown product 'nope'" in unknown.stderr


def test_demo_leaves_a_history_with_price_changes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = tracker("demo", "--output", str(out), timeout=300)
    assert done.returncode == 0, done.stderr
    db = out / "tracker.sqlite3"
    with sqlite3.connect(db) as conn:
        listings = conn.execute("select count(*) from listings").fetchone()[0]
        changed = conn.execute(
            "select count(*) from (select listing_id from observations group by listing_id "
            "having count(distinct price) > 1)"
        ).fetchone()[0]
        failures = conn.execute(
            "select count(*) from fetch_log where outcome not in ('new','changed','unchanged')"
        ).fetchone()[0]
    assert listings >= 6 and changed >= 2 and failures >= 1
    for name in (
        "config.toml",
        "latest.json",
        "latest-v1.schema.json",
        "site/headphone-amplifier.html",
        "site/headphone-amplifier.md",
    ):
        assert (out / name).exists(), name
    # the rounds move a product across a band boundary and back, and the guide follows
    bands = re.findall(r"guide headphone-amplifier: (re-rendered|unchanged) \((.*)\)", done.stdout)
    assert ("re-rendered", "topping-l50 $$, schiit-magni-unity $$") in bands
    assert bands[-1] == ("re-rendered", "topping-l50 $$, schiit-magni-unity $")
    # the config the demo used works afterwards
    again = tracker("--config", str(out / "config.toml"), "history", "topping-l50")
    assert again.returncode == 0 and "TOPPING Direct" in again.stdout
    env = dict(os.environ, TRACKER_CONFIG=str(out / "config.toml"))
    current = tracker("render", "--check", env=env)
    assert current.returncode == 0, current.stdout + current.stderr
    assert re.fullmatch(r"1 guide: \d+ unchanged\n", current.stdout), current.stdout


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield prefix + name, command
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + name + " ")


@pytest.mark.parametrize(("name", "command"), list(_commands(main)))
def test_every_command_has_help_and_is_in_the_readme(name: str, command: click.Command) -> None:
    assert command.help and len(command.help) > 20, f"tracker {name} has no help text"
    readme = (ROOT / "README.md").read_text()
    assert f"tracker {name}" in readme, f"tracker {name} is not documented in README.md"
