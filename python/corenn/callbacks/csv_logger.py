"""CSVLogger: one row of epoch logs per epoch, never a half-written row."""
import csv
import io
import os
import warnings

import numpy as np

from .base import Callback


class CSVLogger(Callback):
    """Writes one CSV row per epoch: 'epoch' then the log keys (sorted), flushed each epoch.
    As in Keras, logs with no val_ key get val_<key> columns too ('NA' in every row).

    Each row goes to the file in a single unbuffered write of the whole line, so a crash
    leaves complete rows only. Keys that first appear in a later epoch (validation every few
    epochs) are added as new columns, 'NA' in the rows before. With ``append=True`` an existing file keeps its header
    (its columns are reused) and a partial last line, left by a crash of the machine mid-write,
    is cut off with a warning before new rows go in.

    Args:
        filename: path of the CSV file.
        separator: the field separator.
        append: add to an existing file instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.keys = None
        self._fd = None

    def _existing_header(self):
        """Columns of an existing file (cutting off a partial last line); None if empty."""
        try:
            with open(self.filename, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        if not data:
            return None
        if not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            warnings.warn(f"CSVLogger: {self.filename} ends with a partial row; cutting it off",
                          RuntimeWarning, stacklevel=3)
            with open(self.filename, "r+b") as f:
                f.truncate(keep)
            data = data[:keep]
            if not data:
                return None
        first = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
        return next(csv.reader([first], delimiter=self.separator))

    def on_train_begin(self, logs=None):
        self.keys = None
        flags = os.O_WRONLY | os.O_CREAT
        header = self._existing_header() if self.append else None
        if header and header[0] == "epoch":
            self.keys = header[1:]
        flags |= os.O_APPEND if self.append else os.O_TRUNC
        self._fd = os.open(self.filename, flags, 0o644)
        self._write_header = header is None

    def _line(self, fields):
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.separator, lineterminator="\n").writerow(fields)
        return buf.getvalue()

    @staticmethod
    def _format(value):
        if isinstance(value, str):
            return value
        value = np.asarray(value)
        if value.ndim == 0:
            return value.item()
        return "[" + ", ".join(map(str, value.ravel().tolist())) + "]"

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._fd is None:  # used outside fit
            self.on_train_begin()
        text = ""
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                # Keras' columns: a fit without validation still has val_<key> columns ('NA')
                self.keys += [f"val_{k}" for k in self.keys]
        elif not self._write_header and not set(logs) <= set(self.keys):
            self._widen(sorted(set(logs) - set(self.keys)))
        if self._write_header:
            text += self._line(["epoch"] + self.keys)
            self._write_header = False
        text += self._line([epoch] + [self._format(logs.get(k, "NA")) for k in self.keys])
        # One unbuffered write of whole lines: the row reaches the OS (flushed) at once, and a
        # crash of the process can never leave half of it in the file.
        data = text.encode("utf-8")
        while data:  # a write cut short by a signal: finish the line
            data = data[os.write(self._fd, data):]

    def _widen(self, new_keys):
        """Keys that appear after the header was written (val_* with validation_freq > 1, a
        learning_rate logged by a later callback) become new last columns, 'NA' in the earlier
        rows. The file is rewritten to a temporary file then renamed over: never half-written."""
        os.close(self._fd)
        with open(self.filename, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter=self.separator))
        self.keys = self.keys + new_keys
        text = self._line(["epoch"] + self.keys)
        text += "".join(self._line(row + ["NA"] * len(new_keys)) for row in rows[1:])
        tmp = self.filename + ".tmp"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.filename)
        self._fd = os.open(self.filename, os.O_WRONLY | os.O_APPEND)

    def on_train_end(self, logs=None):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):  # a fit that raised never reached on_train_end
        self.on_train_end()
