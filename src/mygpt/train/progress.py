"""A live training progress bar on stderr that never touches the book's stdout lines."""

import os
import sys
import time
import warnings

import torch

from ..errors import MyGPTWarning, StdoutError


class Progress:
    """Step counter, loss, tokens/s and ETA on stderr (tqdm), or nothing when disabled.

    ``print`` routes the book's step lines to stdout: plainly when the bar is off, and around the
    bar (cleared, line written, bar redrawn) when it is on, so stdout bytes are identical either way.
    """

    def __init__(self, total_steps: int, tokens_per_step: int, enabled: bool, refresh_s: float = 0.5):
        self.tokens_per_step = tokens_per_step
        self.refresh_s = refresh_s
        self._last = 0.0
        self._stdout_failed = False
        self.bar = None
        if enabled:
            from tqdm import tqdm  # only a run with a bar needs tqdm (the library must import without it)

            width = _terminal_width(sys.stderr)
            self.bar = tqdm(total=total_steps, desc="train", unit="step", file=sys.stderr, leave=False,
                            ncols=width or 80, dynamic_ncols=width > 0)

    def update(self, loss: torch.Tensor) -> None:
        """Advance one step; read the loss (a device sync) only when the display refreshes."""
        if self.bar is None:
            return
        self.bar.update(1)
        now = time.monotonic()
        if now - self._last >= self.refresh_s or self.bar.n == self.bar.total:
            self._last = now
            elapsed = self.bar.format_dict["elapsed"] or 1e-9
            tokens_s = self.bar.n * self.tokens_per_step / elapsed
            self.bar.set_postfix_str(f"loss {loss.item():.4f}, {tokens_s:,.0f} tok/s")

    def print(self, line: str) -> None:
        """Write one stdout line (flushed) without garbling the bar.

        A stdout that cannot be written (a full disk) is a warning, once, and training goes on: the
        numbers are in the metrics file too, and losing a printed line must not lose the run.
        """
        if self._stdout_failed:
            return
        try:
            if self.bar is None:
                print(line, flush=True)
            else:
                self.bar.write(line, file=sys.stdout)
                sys.stdout.flush()
        except (OSError, StdoutError) as err:
            if isinstance(err, BrokenPipeError):
                raise
            self._stdout_failed = True
            reason = err if isinstance(err, StdoutError) else f"cannot write to stdout ({err.strerror})"
            warnings.warn(f"{reason}; training goes on without step lines (they are in the metrics file)",
                          MyGPTWarning, stacklevel=2)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _terminal_width(stream) -> int:
    """Columns of the terminal behind ``stream``; 0 when unknown (some terminals report 0 columns)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0
