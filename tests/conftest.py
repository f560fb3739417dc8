"""Every test keeps its saved states (``summary``, ``latest``) in its own directory,
never in the user's cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.options import CACHE_DIR_ENV


@pytest.fixture(autouse=True)
def _private_state_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    where = tmp_path_factory.mktemp("state-cache")
    monkeypatch.setenv(CACHE_DIR_ENV, str(where))
    return where
