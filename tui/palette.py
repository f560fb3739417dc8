"""The status palette: one glyph and colour per latest status, for every view.

Okabe-Ito colours (colour-blind safe), and a glyph that reads without colour
too. Skipped days are grey, never the failure colour. The calendar, its
legends, the help screen, the live feed and day detail take them from here.
"""

from __future__ import annotations

#: Glyph and colour per latest status: reads without colour too (Okabe-Ito,
#: colour-blind safe). Skipped days are grey, never the failure colour.
STYLE: dict[str | None, tuple[str, str]] = {
    "UPLOADED": ("■", "#009E73"),
    "PROCESSED": ("▪", "#56B4E9"),
    "DOWNLOADED": ("▫", "#0072B2"),
    "SKIPPED_NO_DATA": ("~", "#999999"),
    "SKIPPED_NO_INPUT": ("~", "#999999"),
    "FAILED": ("✗", "#D55E00"),
    "DOWNLOAD_PENDING": ("…", "#E69F00"),
    "PROCESS_PENDING": ("…", "#E69F00"),
    "UPLOAD_PENDING": ("…", "#E69F00"),
    None: ("·", "#7F7F7F"),
}
STALLED: tuple[str, str] = ("!", "#CC79A7")

#: (glyph, colour, meaning) of the status mode, in legend order.
STATUS_LEGEND: tuple[tuple[str, str, str], ...] = (
    (*STYLE["UPLOADED"], "uploaded"),
    (*STYLE["PROCESSED"], "processed"),
    (*STYLE["DOWNLOADED"], "downloaded"),
    (*STYLE["SKIPPED_NO_DATA"], "skipped"),
    (*STYLE["FAILED"], "failed"),
    (*STYLE["DOWNLOAD_PENDING"], "pending"),
    (*STALLED, "stalled"),
    (*STYLE[None], "missing"),
)


def status_colour(status: str) -> str:
    """The colour of ``status`` as text (the feed, day detail): bold for a failure."""
    glyph_colour = STYLE.get(status)
    if glyph_colour is None:
        return ""
    return f"bold {glyph_colour[1]}" if status == "FAILED" else glyph_colour[1]
