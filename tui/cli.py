"""The ``backfill-monitor`` command line.

Each command lives in its own module and is imported only when it runs, so
headless commands never pay for importing Textual.
"""

from __future__ import annotations

import importlib
import sys

import click

from . import __version__

# command name -> "module:attribute" of its click.Command
COMMANDS: dict[str, str] = {
    "check": "tui.cmd_check:check",
    "demo": "tui.cmd_monitor:demo",
    "follow": "tui.cmd_follow:follow",
    "latest": "tui.cmd_latest:latest",
    "summary": "tui.cmd_summary:summary",
    "watch": "tui.cmd_monitor:watch",
}


class BadInput(click.ClickException):
    """Bad input: one line on stderr and exit code 2, never a traceback."""

    exit_code = 2


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backfill-monitor")
def main() -> None:
    """Watch and query the telemetry of a UDL backfill.

    \b
    Examples:
      backfill-monitor demo
      backfill-monitor watch telemetry.csv
      backfill-monitor summary telemetry.csv --fail-on failed,stalled
    """


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
