"""``keras.utils.Config``: a dictionary of settings that also reads and writes as attributes,
can be frozen against changes and dumps to JSON (Keras 3.15)."""
from __future__ import annotations

import copy
import difflib
import json

__all__ = ["Config"]


class Config:
    """``Config(learning_rate=0.1)``; ``c.momentum = 0.9`` and ``c["seed"] = 1`` add entries,
    ``c.learning_rate`` / ``c["learning_rate"]`` read them; ``freeze()`` makes every change raise
    ValueError until ``unfreeze()``. Iteration yields the keys in sorted order (Keras)."""

    _OWN = frozenset({"_config", "_frozen"})

    def __init__(self, **kwargs):
        object.__setattr__(self, "_config", dict(kwargs))
        object.__setattr__(self, "_frozen", False)

    @property
    def frozen(self):
        return self._frozen

    def freeze(self):
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self):
        object.__setattr__(self, "_frozen", False)

    def _check_mutable(self):
        if self._frozen:
            raise ValueError("Config: cannot mutate attribute(s) because the config is frozen")

    def as_dict(self):
        return copy.copy(self._config)

    def to_json(self):
        return json.dumps(self._config)

    def keys(self):
        return self._config.keys()

    def values(self):
        return self._config.values()

    def items(self):
        return self._config.items()

    def get(self, keyname, value=None):
        return self._config.get(keyname, value)

    def pop(self, *args):
        self._check_mutable()
        return self._config.pop(*args)

    def update(self, *args, **kwargs):
        self._check_mutable()
        self._config.update(*args, **kwargs)

    def __setattr__(self, name, value):
        if name in self._OWN or hasattr(type(self), name):
            raise AttributeError(f"Config: {name!r} is a method or property of Config, not a setting")
        self._check_mutable()
        self._config[name] = value

    def __getattr__(self, name):   # only reached for names that are not attributes of the class
        config = object.__getattribute__(self, "_config")
        if name in config:
            return config[name]
        msg = f"Config: unknown attribute {name!r}."
        close = difflib.get_close_matches(name, list(config), n=1, cutoff=0.7)
        if close:
            msg += f" Did you mean {close[0]!r}?"
        raise AttributeError(msg)

    def __setitem__(self, key, item):
        self._check_mutable()
        self._config[key] = item

    def __getitem__(self, key):
        return self._config[key]

    def __delitem__(self, key):
        self._check_mutable()
        del self._config[key]

    def __contains__(self, item):
        return item in self._config

    def __iter__(self):
        return iter(sorted(self._config))

    def __len__(self):
        return len(self._config)

    def __repr__(self):
        return f"<Config {self._config}>"
