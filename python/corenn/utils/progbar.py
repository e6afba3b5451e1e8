"""Keras-compatible text progress bar.

    120/469 [=======>......................] - ETA: 3s - loss: 0.6231 - accuracy: 0.7812
    469/469 [==============================] - 4s 8ms/step - loss: 0.5120 - accuracy: 0.8203

On a terminal (or in Jupyter) verbose=1 redraws one line with '\r'. On anything else (a log
file, a pipe, CI) redrawing would leave a mess of carriage returns, so the bar writes plain
lines instead: at most one per ~10% of the target or per 10 seconds, plus the final line.
verbose=2 writes only the final line. Values are averaged over the updates (weighted by steps),
except names in `stateful_metrics`, which are shown as given.
"""
import logging
import math
import sys
import time

import numpy as np

__all__ = ["Progbar"]

# Non-terminal streams: one line per this fraction of the target, or per this many seconds.
_PLAIN_FRACTION = 0.1
_PLAIN_SECONDS = 10.0


def format_eta(seconds):
    """'7s', '1:05' or '2:03:04', as Keras writes an ETA."""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{(seconds % 3600) // 60:02d}:{seconds % 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


def format_step_time(seconds, unit_name="step"):
    """Time per unit: '2s/step', '35ms/step' or '420us/step'."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def format_value(value):
    """Four decimals, or scientific notation for tiny values (as Keras). An array (a per-class
    metric such as F1Score(average=None)) prints as the mean of its elements, one number, as
    Keras' progress bar does; the History keeps the whole array."""
    if np.ndim(value) > 0:
        value = float(np.mean(value))
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


_INTERACTIVE = [True]


def enable_interactive_logging():
    """Progress bars redraw their line in a terminal or notebook (the default)."""
    _INTERACTIVE[0] = True


def disable_interactive_logging():
    """Progress bars stop writing to stdout: their lines go to the ``logging`` module at INFO
    (logger "corenn"), as Keras 3 sends them to absl logging; a bar made with its own ``stream``
    writes plain lines there (Keras 3's switch for logs collected by a job scheduler)."""
    _INTERACTIVE[0] = False


def is_interactive_logging_enabled():
    return _INTERACTIVE[0]


def _is_dynamic(stream):
    """True where '\r' redraws a line: a terminal or a Jupyter kernel's stream, unless interactive
    logging is off."""
    if not _INTERACTIVE[0]:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except (ValueError, OSError):  # closed or detached stream
        return False
    return "ipykernel" in sys.modules and stream in (sys.stdout, sys.stderr)


class Progbar:
    """Displays a progress bar.

    Args:
        target: total number of steps expected, or None if unknown.
        width: width of the bar in characters.
        verbose: 0 (silent), 1 (live bar) or 2 (final line only).
        interval: minimum seconds between two redraws of a live bar.
        stateful_metrics: names whose values are shown as given instead of averaged.
        unit_name: what one step is called in the per-step time ('step', 'sample').
        stream: where to write; default `sys.stdout` (looked up at each write).
    """

    def __init__(self, target, width=30, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step", stream=None):
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: verbose must be 0, 1 or 2, got {verbose!r}")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self._stream = stream
        self._values = {}          # name -> [weighted sum, weight] or [value, 1] if stateful
        self._values_order = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._last_plain_time = self._start
        self._next_plain_step = self._plain_stride()
        self._line_width = 0
        self._finalized = False

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def _plain_stride(self):
        if not self.target:
            return math.inf
        return max(1, math.ceil(self.target * _PLAIN_FRACTION))

    def update(self, current, values=None, finalize=None):
        """Record progress and redraw if due.

        Args:
            current: index of the current step (steps done so far).
            values: iterable of (name, value) pairs, or a dict.
            finalize: whether this is the last update; default `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values)
        self._seen_so_far = current
        if self.verbose == 0 or self._finalized:
            return
        now = time.time()
        if self.verbose == 2:
            if finalize:
                self._write_final_verbose2(current, now)
        elif _is_dynamic(self.stream):
            if finalize or now - self._last_update >= self.interval:
                self._redraw(current, now, finalize)
                self._last_update = now
        elif finalize or (not self._at_end(current) and (
                current >= self._next_plain_step or
                now - self._last_plain_time >= _PLAIN_SECONDS)):
            # At the target a final line follows; an extra "3/3 ... ETA: 0s" line is noise.
            self._write(self._line(current, now, finalize) + "\n")
            self._last_plain_time = now
            while self._next_plain_step <= current:
                self._next_plain_step += self._plain_stride()
        self._finalized = finalize

    def add(self, n, values=None):
        """Advance by `n` steps."""
        self.update(self._seen_so_far + n, values)

    def _at_end(self, current):
        return self.target is not None and current >= self.target

    # -- bookkeeping ---------------------------------------------------------------------
    def _record(self, current, values):
        if values is None:
            return
        items = values.items() if isinstance(values, dict) else values
        # Weight by the steps since the last update, so sparse updates still average right.
        weight = max(current - self._seen_so_far, 1)
        for name, value in items:
            if name not in self._values_order:
                self._values_order.append(name)
            # a per-class metric (F1Score(average=None)) is an array, averaged element-wise
            value = float(value) if np.ndim(value) == 0 else np.asarray(value, np.float64)
            if name in self.stateful_metrics:
                self._values[name] = [value, 1]
            elif name not in self._values:
                self._values[name] = [value * weight, weight]
            else:
                self._values[name][0] += value * weight
                self._values[name][1] += weight

    def _value_text(self):
        parts = []
        for name in self._values_order:
            total, weight = self._values[name]
            parts.append(f" - {name}: {format_value(total / max(weight, 1))}")
        return "".join(parts)

    def _time_per_unit(self, current, now):
        return (now - self._start) / current if current else 0.0

    # -- rendering -----------------------------------------------------------------------
    def _bar(self, current):
        if self.target is None:
            return f"{current:7d}/Unknown"
        digits = len(str(self.target))
        bar = f"{current:{digits}d}/{self.target} ["
        done = int(self.width * min(current / self.target, 1.0)) if self.target else self.width
        if done > 0:
            bar += "=" * (done - 1) + (">" if current < self.target else "=")
        return bar + "." * (self.width - done) + "]"

    def _line(self, current, now, finalize):
        per_unit = self._time_per_unit(current, now)
        if finalize or self.target is None:
            info = f" - {now - self._start:.0f}s {format_step_time(per_unit, self.unit_name)}"
        else:
            info = f" - ETA: {format_eta(per_unit * (self.target - current))}"
        return self._bar(current) + info + self._value_text()

    def _redraw(self, current, now, finalize):
        line = self._line(current, now, finalize)
        # Pad with spaces so a shorter line fully covers the previous one.
        pad = " " * max(self._line_width - len(line), 0)
        self._line_width = len(line)
        self._write("\r" + line + pad + ("\n" if finalize else ""))

    def _write_final_verbose2(self, current, now):
        digits = len(str(self.target)) if self.target is not None else 7
        count = f"{current:{digits}d}/{self.target if self.target is not None else 'Unknown'}"
        per_unit = format_step_time(self._time_per_unit(current, now), self.unit_name)
        self._write(f"{count} - {now - self._start:.0f}s - {per_unit}{self._value_text()}\n")

    def _write(self, text):
        if not _INTERACTIVE[0] and self._stream is None:
            # Keras 3: with interactive logging off, progress goes to the logging module (INFO),
            # not to stdout; a bar given its own stream still writes plain lines there
            if text.strip():
                logging.getLogger("corenn").info(text.strip("\r\n"))
            return
        stream = self.stream
        stream.write(text)
        stream.flush()
