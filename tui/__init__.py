"""The ``backfill-monitor`` command line and its Textual monitor."""

__version__ = "0.1.0"
