"""Filling a DataTable whose columns fit their content exactly.

DataTable measures auto-width columns when the app is idle, but cells it
rendered before then stay cached at the old width (Textual 8.2): rows show
cut short until the cursor passes over them. The screens know all their
rows up front, so they size the columns themselves and nothing is measured
late.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def fill_table(
    table: DataTable[Any],
    labels: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    keys: Sequence[str] | None = None,
    max_width: int = 80,
) -> None:
    """Replace the columns and rows of ``table``; each column as wide as its widest cell.

    Widths are capped at ``max_width`` cells (longer cells are cut). ``keys``
    are the row keys, one per row.
    """
    widths = [
        min(max_width, max([cell_len(label), *(_width(r[i]) for r in rows)]))
        for i, label in enumerate(labels)
    ]
    table.clear(columns=True)
    for label, width in zip(labels, widths, strict=True):
        table.add_column(label, width=width, key=label)
    for i, row in enumerate(rows):
        table.add_row(*row, key=None if keys is None else keys[i])
