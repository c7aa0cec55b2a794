"""Stopping training cleanly on Ctrl-C (SIGINT) or SIGTERM.

The first signal only raises a flag: the loop finishes its current step, saves a resumable
checkpoint and stops (``TrainingStopped``). A second signal raises ``KeyboardInterrupt`` at once,
wherever the program is; an interrupted save leaves the previous checkpoint file as it was.
"""

import contextlib
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """The first stop signal received, if any: its name and the exit status a shell expects (128 + n)."""

    def __init__(self):
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.signum = signum


@contextlib.contextmanager
def stop_signals(enabled: bool = True):
    """Catch SIGINT/SIGTERM into a ``StopRequest`` while the block runs (main thread only)."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {signum: signal.signal(signum, request._handle) for signum in SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
