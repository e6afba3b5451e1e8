"""keras.callbacks.RemoteMonitor: each epoch's logs POSTed to a local HTTP server, as a form
field or as JSON, and an unreachable server gives a warning while training goes on."""
import http.server
import json
import socket
import threading
import urllib.parse

import numpy as np
import pytest

from corenn import callbacks, layers, models


@pytest.fixture
def server():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.path, self.headers.get("Content-Type"), self.headers.get("X-Run"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    httpd.shutdown()
    httpd.server_close()


def _fit(cb, epochs=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = models.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile("sgd", loss="mse", metrics=["mae"])
    return model.fit(x, y, validation_split=0.25, epochs=epochs, batch_size=4, verbose=0, callbacks=[cb])


def test_form_field_posts_each_epoch(server):
    root, received = server
    history = _fit(callbacks.RemoteMonitor(root=root, path="/publish/epoch/end/", headers={"X-Run": "a"}))
    assert len(received) == 3
    for epoch, (path, ctype, run, body) in enumerate(received):
        assert path == "/publish/epoch/end/" and ctype == "application/x-www-form-urlencoded" and run == "a"
        sent = json.loads(urllib.parse.parse_qs(body)["data"][0])
        assert sent["epoch"] == epoch
        assert sent["loss"] == pytest.approx(history.history["loss"][epoch], rel=1e-6)
        assert sent["val_mae"] == pytest.approx(history.history["val_mae"][epoch], rel=1e-6)


def test_send_as_json(server):
    root, received = server
    cb = callbacks.RemoteMonitor(root=root, path="/p", send_as_json=True)
    cb.on_epoch_end(4, {"loss": np.float32(0.25), "acc": np.array(0.5)})
    (path, ctype, _, body), = received
    assert path == "/p" and ctype == "application/json"
    assert json.loads(body) == {"epoch": 4, "loss": 0.25, "acc": 0.5}


def test_unreachable_server_warns_and_training_goes_on():
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor"):
        history = _fit(callbacks.RemoteMonitor(root=f"http://127.0.0.1:{port}", timeout=2), epochs=2)
    assert len(history.history["loss"]) == 2
