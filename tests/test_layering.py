"""The telemetry package is embedded by orchestrators: standard library only."""

import subprocess
import sys

UI_PACKAGES = ("textual", "watchfiles", "click", "rich")


def test_importing_telemetry_loads_no_ui_package() -> None:
    code = (
        "import sys, telemetry, telemetry.store, telemetry.records, telemetry.latest\n"
        "import pkgutil, importlib\n"
        "for m in pkgutil.iter_modules(telemetry.__path__):\n"
        "    importlib.import_module('telemetry.' + m.name)\n"
        f"print(sorted(p for p in {UI_PACKAGES!r} if p in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
