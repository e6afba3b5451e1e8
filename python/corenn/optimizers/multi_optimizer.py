"""MultiOptimizer and OptimizerMap (Keras 3.15): different optimizers for different variables.

An ``OptimizerMap`` maps a variable's path ("layer/weight") to an optimizer: an exact key first,
else the one key that ``re.fullmatch``es the path (two matching keys are an error), else the
default optimizer. ``MultiOptimizer(optimizer_map)`` takes such a map or any callable
``variable -> optimizer``; each step hands every sub-optimizer its own variables' gradients
(each keeps its own learning rate, state and step count), and counts one step of its own.
"""
from __future__ import annotations

import re
from collections.abc import MutableMapping

from .optimizer import Optimizer

__all__ = ["MultiOptimizer", "OptimizerMap"]


def _check_inner(optimizer, what):
    if isinstance(optimizer, MultiOptimizer):
        raise ValueError(f"{what}: a MultiOptimizer cannot be used inside a MultiOptimizer")
    if getattr(optimizer, "_scales_loss", False) and not isinstance(optimizer, Optimizer):
        raise ValueError(f"{what}: a LossScaleOptimizer cannot be used inside a MultiOptimizer")
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"{what}: expected a corenn Optimizer instance, got {optimizer!r}")


class OptimizerMap(MutableMapping):
    """Variable paths (or regular expressions over them) -> optimizers, with a default."""

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(f"OptimizerMap: default_optimizer must be an Optimizer instance, got {default_optimizer!r}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"OptimizerMap: optimizer_map must be a dictionary, got {optimizer_map!r}")
        self._default_optimizer = default_optimizer
        self._optimizer_map = dict(optimizer_map or {})

    @property
    def default_optimizer(self):
        return self._default_optimizer

    def __getitem__(self, key):
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise ValueError(f"OptimizerMap: multiple optimizers assigned to variable {key!r} "
                             f"(patterns {', '.join(map(repr, matching))})")
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, key, optimizer):
        if key in self._optimizer_map:
            raise ValueError(f"OptimizerMap: {key!r} already exists in the map; keys must not repeat")
        if not isinstance(key, str):
            raise ValueError(f"OptimizerMap: key must be a string, got {key!r}")
        _check_inner(optimizer, "OptimizerMap")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key):
        del self._optimizer_map[key]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable):
        return self[_path(variable)]

    def get_config(self):
        from . import serialize
        return {"default_optimizer": serialize(self._default_optimizer),
                "optimizer_map": {k: serialize(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import deserialize
        return cls(deserialize(config["default_optimizer"]),
                   {k: deserialize(v) for k, v in (config.get("optimizer_map") or {}).items()})


def _path(variable):
    return str(getattr(variable, "path", None) or getattr(variable, "name", None) or "")


class MultiOptimizer(Optimizer):
    """Delegates each variable to the optimizer ``optimizer_map`` (an OptimizerMap or a callable
    ``variable -> optimizer``) gives it. ``learning_rate`` is not defined on it (the
    sub-optimizers have their own: ``optimizers``); ``loss_scale_factor`` is passed down."""

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if not callable(optimizer_map):
            raise TypeError(f"MultiOptimizer: optimizer_map must be an OptimizerMap or a callable, got "
                            f"{optimizer_map!r}")
        self.__dict__["_multi_init"] = True
        super().__init__(0.0, name=name or "multi_optimizer", loss_scale_factor=loss_scale_factor)
        del self.__dict__["_multi_init"]
        self._optimizer_map = optimizer_map
        self._inner_optimizers = []
        inner = list(optimizer_map.values()) if hasattr(optimizer_map, "values") else []
        default = getattr(optimizer_map, "default_optimizer", None)
        for opt in inner + ([default] if default is not None else []):
            if all(opt is not o for o in self._inner_optimizers):
                self._adopt(opt)

    def _adopt(self, opt):
        _check_inner(opt, "MultiOptimizer")
        opt.loss_scale_factor = self.loss_scale_factor
        self._inner_optimizers.append(opt)

    @property
    def learning_rate(self):
        if self.__dict__.get("_multi_init"):
            return 0.0
        raise AttributeError("MultiOptimizer: the learning rate cannot be read on a MultiOptimizer; read it on "
                             "the sub-optimizers (optimizer.optimizers)")

    @learning_rate.setter
    def learning_rate(self, value):
        if self.__dict__.get("_multi_init"):
            self._learning_rate, self._lr_takes_step = 0.0, False
            return
        raise AttributeError("MultiOptimizer: the learning rate cannot be set on a MultiOptimizer; set it on "
                             "the sub-optimizers (optimizer.optimizers)")

    @property
    def optimizers(self):
        return list(self._inner_optimizers)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        raise NotImplementedError("MultiOptimizer: call exclude_from_weight_decay on the sub-optimizers "
                                  "(optimizer.optimizers), which apply the decay")

    def build(self, var_list):
        var_list = list(var_list)
        groups = [[] for _ in self._inner_optimizers]
        owner = []
        for var in var_list:
            opt = self._optimizer_map(var)
            _check_inner(opt, f"MultiOptimizer (variable {_path(var)!r})")
            index = next((k for k, o in enumerate(self._inner_optimizers) if o is opt), None)
            if index is None:
                self._adopt(opt)
                groups.append([])
                index = len(self._inner_optimizers) - 1
            groups[index].append(var)
            owner.append(index)
        for opt, variables in zip(self._inner_optimizers, groups):
            if variables:
                opt.build(variables)
        self._vars, self._var_tensors, self._owner, self._state = var_list, var_list, owner, {}
        self._ema = self._accumulated = None

    @property
    def _state_variables(self):
        return [v for opt in self._inner_optimizers for v in opt._state_variables]

    @property
    def variables(self):
        return [v for opt in self._inner_optimizers for v in opt.variables]

    def _dispatch(self, grads, trainable_variables, method):
        grads = list(grads)
        if not grads:
            return self._iterations
        if trainable_variables is None:
            if not self.built:
                raise ValueError(f"{self.name}: apply() without trainable_variables needs a built optimizer; "
                                 "pass the variables or call build() first")
            trainable_variables = self._vars
        variables = list(trainable_variables)
        if not self._same_vars(variables):
            self.build(variables)
        if len(grads) != len(variables):
            raise ValueError(f"{self.name}: got {len(grads)} gradients for {len(variables)} variables; pass one "
                             "gradient per variable")
        parts = [([], []) for _ in self._inner_optimizers]
        for g, v, k in zip(grads, variables, self._owner):
            parts[k][0].append(g)
            parts[k][1].append(v)
        for opt, (gs, vs) in zip(self._inner_optimizers, parts):
            if vs:
                getattr(opt, method)(gs, vs)
        self._iterations += 1
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        return self._dispatch(grads, trainable_variables, "apply")

    def apply_unscaled(self, grads, trainable_variables=None):
        return self._dispatch(grads, trainable_variables, "apply_unscaled")

    def finalize_variable_values(self, var_list):
        var_list = list(var_list)
        for k, opt in enumerate(self._inner_optimizers):
            opt.finalize_variable_values([v for v, o in zip(var_list, self._owner) if o == k])

    def __repr__(self):
        return f"<MultiOptimizer name={self.name!r} optimizers={[o.name for o in self._inner_optimizers]}>"

    def get_config(self):
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise NotImplementedError(f"{self.name}: a MultiOptimizer built on a function cannot be serialized; "
                                      "use an OptimizerMap")
        return {"optimizer_map": {"class_name": "OptimizerMap", "config": self._optimizer_map.get_config()},
                "loss_scale_factor": self.loss_scale_factor, "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        spec = config.pop("optimizer_map")
        return cls(OptimizerMap.from_config(spec.get("config", spec)), **config)
