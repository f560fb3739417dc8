"""The monitor's secondary screens, pushed over the main screen.

* :class:`DayDetailScreen` every attempt of one day and its error message;
* :class:`FailuresScreen` failed days grouped by ``error_type``;
* :class:`MalformedScreen` the rows every reader skipped;
* :class:`HelpScreen` keys and the calendar legend.
"""

from .detail import DayDetailScreen
from .failures import FailuresScreen
from .help import HelpScreen
from .malformed import MalformedScreen

__all__ = ["DayDetailScreen", "FailuresScreen", "HelpScreen", "MalformedScreen"]
