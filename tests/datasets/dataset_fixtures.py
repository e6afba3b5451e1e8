"""Fixtures of the dataset tests (a module, not conftest.py: tests import conftest by name)."""
import functools
import http.server
import threading

import pytest

from corenn.datasets import boston_housing, california_housing, cifar10, cifar100, imdb, reuters

SPECS = (cifar10.SPEC, cifar100.SPEC, imdb.SPEC, imdb.WORD_INDEX_SPEC, reuters.SPEC,
         reuters.WORD_INDEX_SPEC, boston_housing.SPEC, california_housing.SPEC)


@pytest.fixture
def no_data_dirs(monkeypatch, tmp_path):
    """No $CORENN_DATA, an empty cache under tmp_path, system dirs under tmp_path/system, no
    mirrors: a loader finds only what a test puts there."""
    monkeypatch.delenv("CORENN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for spec in SPECS:
        monkeypatch.setattr(spec, "system_dirs", [str(tmp_path / "system" / spec.name)])
        monkeypatch.setattr(spec, "mirrors", [])
    return tmp_path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(directory) -> the base URL of a local HTTP server for that directory."""
    servers = []

    def start(directory):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()
