"""The seed plans' texts, found beside the project (../shared/seeds), as CI has them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


def seed_text(name: str) -> str:
    """The text of one seed; the test is skipped without the seeds, and fails in CI."""
    path = SEEDS / name
    if not path.is_file():
        reason = f"seed {name} not found in {SEEDS}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must have ../shared/seeds beside the project)")
        pytest.skip(reason)
    return path.read_text(encoding="utf-8")
