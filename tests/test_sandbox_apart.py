"""The product does not load its sandbox: no module of bot/, flows/ or storage/ imports the local
Bot API server, the demo or the benchmarks (nor aiohttp, which only they need)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import importlib, json, pkgutil, sys
names = []
for package in ("bot", "flows", "storage"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if ".migrations" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
            names.append(info.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("sandbox", "aiohttp"))
print(json.dumps({"imported": names, "loaded": loaded}))
"""


def test_bot_flows_and_storage_load_without_the_sandbox():
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"bot.app", "bot.cli", "bot.service", "storage.db"} <= set(found["imported"])
    assert found["loaded"] == []


def test_the_sandbox_commands_load_it_when_run():
    probe = ("import sys; from typer.testing import CliRunner; from bot.cli import app; "
             "r = CliRunner().invoke(app, ['bench', '--help']); "
             "print(r.exit_code, 'sandbox.bench.cli' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert proc.stdout.split() == ["0", "True"]
