"""The driver of a monitor served to a browser: Textual's web driver, made safe to leave running.

``backfill-monitor serve`` starts one monitor process per browser session
with ``TEXTUAL_DRIVER`` naming :class:`ServedDriver`. Beside what Textual's
:class:`~textual.drivers.web_driver.WebDriver` does, it guarantees that the
process ends when it should, whatever state the app is in:

* SIGTERM and SIGINT end the process at once, as the kernel does by default.
  Textual's web driver handles them in its event loop, which never hears
  them while the app is stuck (blocked writing to a pipe nobody reads); a
  Python handler would not help either, as it runs only in the main thread,
  between bytecodes. The server asks a monitor to quit before it signals it,
  and a monitor has no terminal to restore and no file to finish;
* when the server goes away (its end of stdin closes, or stdout breaks), the
  app is asked to exit, and the process ends within :data:`EXIT_GRACE_S`
  even if the app is stuck: a monitor never outlives the ``serve`` that
  started it;
* every write reaches the server whole (a pipe may take part of a large write
  when a signal interrupts it; the web protocol cannot lose a byte).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from textual import messages
from textual.drivers.web_driver import WebDriver

#: Seconds the app has to exit by itself before the process ends regardless.
EXIT_GRACE_S = 2.0


class ServedDriver(WebDriver):
    """Textual's web driver with hard exits (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._write = partial(_write_all, self.fileno, self.end)
        self._ending = threading.Event()

    def start_application_mode(self) -> None:
        super().start_application_mode()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # stdin closed while the app runs: no server
            self.end()

    def end(self) -> None:
        """Ask the app to exit; end the process after :data:`EXIT_GRACE_S` if it has not.

        Safe from any thread; later calls do nothing.
        """
        if self._ending.is_set():
            return
        self._ending.set()
        if not self._loop.is_closed():
            app = self._app
            self._loop.call_soon_threadsafe(lambda: app.post_message(messages.ExitApp()))
        timer = threading.Timer(EXIT_GRACE_S, os._exit, args=(0,))
        timer.daemon = True
        timer.start()


def _write_all(fileno: int, gone: Callable[[], None], data: bytes) -> int:
    """Write all of ``data`` (a pipe may take part of it); call ``gone`` if the pipe is broken."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fileno, view) :]
        except BrokenPipeError:
            gone()
            break
    return len(data) - len(view)
