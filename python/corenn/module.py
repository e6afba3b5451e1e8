"""``tf.Module``: a container that finds the variables and modules set on it.

TensorFlow's base class for models written without Keras (the basic-training-loops and
intro-to-modules guides): ``variables`` / ``trainable_variables`` collect the ``tf.Variable``s
held as attributes, also inside lists, tuples and dicts and inside sub-modules (Keras layers and
models count as modules: their weights are included), in attribute order without duplicates;
``submodules`` lists the modules found. ``name_scope`` is accepted (corenn has no graph names).
"""
from __future__ import annotations

import contextlib
import re

from .kernels import Tensor

__all__ = ["Module"]

_COUNTS: dict = {}


def _snake(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _is_variable(v):
    return isinstance(v, Tensor) and v.__dict__.get("_is_variable", False)


class Module:
    """``class M(tf.Module)``: see the module docstring."""

    def __init__(self, name=None):
        if name is None:
            base = _snake(type(self).__name__)
            n = _COUNTS.get(base, 0)
            _COUNTS[base] = n + 1
            name = base if n == 0 else f"{base}_{n}"
        elif not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-/]*", name):
            raise ValueError(f"tf.Module: {name!r} is not a valid module name")
        self._name = name

    @property
    def name(self):
        return self.__dict__.get("_name", _snake(type(self).__name__))

    @property
    def name_scope(self):
        return contextlib.nullcontext()

    @classmethod
    def with_name_scope(cls, method):
        return method

    def _walk(self):
        """(variables, submodules) reachable from the attributes, depth first, each once."""
        from .layers import Layer
        from .models import Model
        variables, modules, seen = [], [], {id(self)}

        def visit(v):
            if id(v) in seen and not isinstance(v, (list, tuple, dict)):
                return
            if _is_variable(v):
                seen.add(id(v))
                variables.append(v)
            elif isinstance(v, Module):
                seen.add(id(v))
                modules.append(v)
                for key in sorted(k for k in v.__dict__ if not k.startswith("_")):
                    visit(v.__dict__[key])
            elif isinstance(v, (Layer, Model)):
                seen.add(id(v))
                modules.append(v)
                for w in v.weights:
                    if id(w) not in seen:
                        seen.add(id(w))
                        variables.append(w)
            elif isinstance(v, (list, tuple)):
                for item in v:
                    visit(item)
            elif isinstance(v, dict):
                for key in sorted(v, key=str):
                    visit(v[key])
        for key in sorted(k for k in self.__dict__ if not k.startswith("_")):
            visit(self.__dict__[key])
        return variables, modules

    @property
    def variables(self):
        return tuple(self._walk()[0])

    @property
    def trainable_variables(self):
        return tuple(v for v in self._walk()[0] if v.__dict__.get("trainable", True))

    @property
    def non_trainable_variables(self):
        return tuple(v for v in self._walk()[0] if not v.__dict__.get("trainable", True))

    @property
    def submodules(self):
        return tuple(self._walk()[1])
