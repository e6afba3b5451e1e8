import pytest

from corenn.datasets import boston_housing, cifar10, cifar100, imdb, reuters

SPECS = (cifar10.SPEC, cifar100.SPEC, imdb.SPEC, imdb.WORD_INDEX_SPEC, reuters.SPEC,
         reuters.WORD_INDEX_SPEC, boston_housing.SPEC)


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
