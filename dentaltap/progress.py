"""A progress bar for long commands: done/total, rate, ETA and failures, on one line.

On a terminal the line is redrawn in place (at most ten times a second); into a file or a pipe
(a deploy log) a plain line is written every few seconds and at the end, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    def __init__(self, total: int, label: str, *, stream: TextIO | None = None, width: int = 28) -> None:
        self.total, self.label, self.width = total, label, width
        self.stream = stream if stream is not None else sys.stderr
        self.done = self.failed = 0
        self.started = time.monotonic()
        self._last_drawn = 0.0
        self._drawn_at: int | None = None
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, count: int = 1, *, failed: int = 0) -> None:
        self.done += count
        self.failed += failed
        now = time.monotonic()
        interval = 0.1 if self._interactive else 5.0
        if now - self._last_drawn >= interval or self.done >= self.total:
            self._last_drawn = now
            self._draw(final=False)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - self.done) / rate if rate > 0 else 0.0
        fraction = self.done / self.total if self.total else 1.0
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        failures = f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.label} [{bar}] {self.done:,}/{self.total:,} {fraction:6.1%} "
            f"{rate:,.1f}/s elapsed {_clock(elapsed)} ETA {_clock(remaining)}{failures}"
        )

    def _draw(self, *, final: bool) -> None:
        self._drawn_at = self.done
        if self._interactive:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._interactive or self._drawn_at != self.done:
            self._draw(final=True)
