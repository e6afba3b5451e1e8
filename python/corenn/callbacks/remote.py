"""RemoteMonitor: each epoch's logs POSTed to a server (Keras' keras.callbacks.RemoteMonitor).

Sent with the standard library's urllib (Keras uses the requests package; corenn adds no
dependency): the body is the form field ``field=<json of {'epoch': ..., **logs}>``, or with
``send_as_json=True`` that JSON itself (Content-Type application/json). A server that cannot be
reached gives a warning, as in Keras, and training goes on.
"""
import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from .base import Callback

__all__ = ["RemoteMonitor"]


class RemoteMonitor(Callback):
    """POST the epoch logs to ``root + path`` at the end of every epoch.

    Args:
        root: the server's URL, e.g. 'http://localhost:9000'.
        path: appended to root.
        field: the form field that carries the JSON (unless send_as_json).
        headers: extra HTTP headers, a dict.
        send_as_json: send the JSON as the request body instead of a form field.
    """

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data", headers=None,
                 send_as_json=False, timeout=10.0):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = dict(headers or {})
        self.send_as_json = bool(send_as_json)
        self.timeout = float(timeout)

    @staticmethod
    def _plain(value):
        if isinstance(value, (np.ndarray, np.generic)):
            return value.item() if value.size == 1 else value.tolist()
        if hasattr(value, "numpy") and not isinstance(value, (int, float, str)):
            return RemoteMonitor._plain(np.asarray(value))
        return value

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            send[key] = self._plain(value)
        text = json.dumps(send)
        headers = dict(self.headers)
        if self.send_as_json:
            body = text.encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: text}).encode("ascii")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(self.root + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)
