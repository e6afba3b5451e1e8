"""``keras.utils.FeatureSpace``: one object that preprocesses and encodes a dict of structured
features (Keras 3's; keras.io "Structured data classification with FeatureSpace").

Each feature gets a preprocessing layer (Normalization, Rescaling, Discretization, IntegerLookup,
StringLookup, Hashing, Identity or the user's own), adapted on a Dataset of feature dicts; the
categorical ones are then one-hot encoded (CategoryEncoding), feature crosses are hashed
(HashedCrossing) from the preprocessed indices, and everything is concatenated in Keras' order:
the features sorted by name, then the crosses sorted by name. The same layers serve both ways of
using it: called on a dict of data (a batch, or one sample) it runs them eagerly; ``get_inputs()``
/ ``get_encoded_features()`` are the ``keras.Input`` dict and the symbolic encoded tensor, so a
model can train on preprocessed data (``Model(encoded_features, outputs)``, whose inputs are
layer outputs) while another model built from ``get_inputs()`` to the same outputs serves raw
dicts with the preprocessing inside.

``save(path.keras)`` writes the preprocessing model (its layers keep their adapted state) with
which layer serves which feature; ``keras.saving.load_model`` gives the FeatureSpace back.
"""
from __future__ import annotations

import builtins

import numpy as np

__all__ = ["FeatureSpace", "Feature", "Cross"]


class Cross:
    """A cross of named features hashed into ``crossing_dim`` bins; output 'one_hot' or 'int'."""

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        if output_mode not in ("int", "one_hot"):
            raise ValueError(f"FeatureSpace.cross: output_mode must be 'int' or 'one_hot', got {output_mode!r}")
        self.feature_names = tuple(feature_names)
        if len(self.feature_names) < 2:
            raise ValueError(f"FeatureSpace.cross: needs at least two feature names, got {self.feature_names}")
        self.crossing_dim = int(crossing_dim)
        self.output_mode = output_mode

    @property
    def name(self):
        return "_X_".join(self.feature_names)

    def get_config(self):
        return {"feature_names": self.feature_names, "crossing_dim": self.crossing_dim,
                "output_mode": self.output_mode}


class Feature:
    """A feature: the dtype of its input, its preprocessing layer and its output_mode ('float':
    used as it is; 'one_hot': its integer output one-hot encoded; 'int': the indices, dict mode)."""

    def __init__(self, dtype, preprocessor, output_mode):
        if output_mode not in ("int", "one_hot", "float"):
            raise ValueError(f"FeatureSpace.feature: output_mode must be 'int', 'one_hot' or 'float', "
                             f"got {output_mode!r}")
        self.dtype, self.preprocessor, self.output_mode = dtype, preprocessor, output_mode

    def get_config(self):
        return {"dtype": self.dtype, "preprocessor": type(self.preprocessor).__name__,
                "output_mode": self.output_mode}


def _layers():
    from .. import layers
    return layers


class FeatureSpace:
    """Preprocess and encode a dict of features (see the module docstring).

    Args:
        features: {name: a Feature (``FeatureSpace.float_normalized()``, ...) or its type name:
            'float', 'float_normalized', 'float_rescaled', 'float_discretized',
            'integer_categorical', 'string_categorical', 'integer_hashed', 'string_hashed'}.
        output_mode: 'concat' (one float32 vector per sample) or 'dict' (one entry per feature
            and cross).
        crosses: Cross objects (``FeatureSpace.cross(...)``) or tuples of feature names.
        crossing_dim: bins of a cross given as a tuple; hashing_dim: bins of the '*_hashed'
            type names; num_discretization_bins: bins of 'float_discretized'.
    """

    # -- feature types ---------------------------------------------------------------------------

    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        return Cross(feature_names, crossing_dim, output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):  # noqa: A003 - Keras' name
        return Feature("float32", _layers().Identity(name=_pre_name(name, "float")), "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        layer = _layers().Rescaling(scale=scale, offset=offset, name=_pre_name(name, "float_rescaled"))
        return Feature("float32", layer, "float")

    @classmethod
    def float_normalized(cls, name=None):
        return Feature("float32", _layers().Normalization(axis=-1, name=_pre_name(name, "float_normalized")),
                       "float")

    @classmethod
    def float_discretized(cls, num_bins, bin_boundaries=None, output_mode="one_hot", name=None):
        layer = _layers().Discretization(num_bins=num_bins if bin_boundaries is None else None,
                                         bin_boundaries=bin_boundaries,
                                         name=_pre_name(name, "float_discretized"))
        return Feature("float32", layer, output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        layer = _layers().IntegerLookup(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                                        name=_pre_name(name, "integer_categorical"))
        return Feature("int32", layer, output_mode)

    @classmethod
    def string_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        layer = _layers().StringLookup(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                                       name=_pre_name(name, "string_categorical"))
        return Feature("string", layer, output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        return Feature("string", _layers().Hashing(num_bins=num_bins, name=_pre_name(name, "string_hashed")),
                       output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        return Feature("int32", _layers().Hashing(num_bins=num_bins, name=_pre_name(name, "integer_hashed")),
                       output_mode)

    # -- construction ----------------------------------------------------------------------------

    def __init__(self, features, output_mode="concat", crosses=None, crossing_dim=32, hashing_dim=32,
                 num_discretization_bins=32, name=None):
        if not features:
            raise ValueError("FeatureSpace: features must be a non-empty dict of {name: feature type}")
        if output_mode not in ("concat", "dict"):
            raise ValueError(f"FeatureSpace: output_mode must be 'concat' or 'dict', got {output_mode!r}")
        self.name = name or "feature_space"
        self.output_mode = output_mode
        self.crossing_dim, self.hashing_dim = crossing_dim, hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.features = {n: self._standardize(n, f) for n, f in features.items()}
        self.crosses = []
        for c in crosses or ():
            if not isinstance(c, Cross):
                if not crossing_dim:
                    raise ValueError("FeatureSpace: crosses given as names need crossing_dim")
                c = Cross(c, crossing_dim)
            unknown = [n for n in c.feature_names if n not in self.features]
            if unknown:
                raise ValueError(f"FeatureSpace: the cross {c.feature_names} names features that are not in "
                                 f"features: {unknown}")
            self.crosses.append(c)
        self.crosses_by_name = {c.name: c for c in self.crosses}
        self.preprocessors = {n: f.preprocessor for n, f in self.features.items()}
        self.crossers = {c.name: _layers().HashedCrossing(num_bins=c.crossing_dim, name=c.name)
                         for c in self.crosses}
        from ..models.graph import Input
        self.inputs = {n: Input(shape=(1,), dtype=f.dtype, name=n) for n, f in self.features.items()}
        self.one_hot_encoders = {}
        self.concat = None
        self.encoded_features = None
        self._is_adapted = False

    def _standardize(self, name, feature):
        if isinstance(feature, Feature):
            return feature
        makers = {
            "float": lambda: self.float(name=name),
            "float_normalized": lambda: self.float_normalized(name=name),
            "float_rescaled": lambda: self.float_rescaled(name=name),
            "float_discretized": lambda: self.float_discretized(self.num_discretization_bins, name=name),
            "integer_categorical": lambda: self.integer_categorical(name=name),
            "string_categorical": lambda: self.string_categorical(name=name),
            "integer_hashed": lambda: self.integer_hashed(self.hashing_dim, name=name),
            "string_hashed": lambda: self.string_hashed(self.hashing_dim, name=name),
        }
        if not isinstance(feature, str) or feature not in makers:
            raise ValueError(f"FeatureSpace: feature '{name}' has an unknown type {feature!r}; expected a "
                             f"FeatureSpace.<type>(...) or one of {', '.join(makers)}")
        return makers[feature]()

    # -- adapt -----------------------------------------------------------------------------------

    def _adaptable(self):
        names = []
        for n, layer in self.preprocessors.items():
            if not hasattr(layer, "adapt"):
                continue
            if type(layer).__name__ == "Normalization" and getattr(layer, "input_mean", None) is not None:
                continue   # given its mean and variance
            if type(layer).__name__ == "Discretization" and getattr(layer, "input_bin_boundaries", None) is not None:
                continue   # given its boundaries
            names.append(n)
        return names

    def adapt(self, dataset):
        """Adapt every feature's preprocessor on ``dataset``, a corenn.data.Dataset of feature dicts
        (batched or not); each feature is seen as a column (batch, 1)."""
        from ..data import Dataset
        if not isinstance(dataset, Dataset):
            raise ValueError(f"FeatureSpace.adapt: takes a Dataset of feature dicts (corenn.data / tf.data), "
                             f"got {type(dataset).__name__}")
        first = next(iter(dataset), None)
        if not isinstance(first, dict):
            raise ValueError("FeatureSpace.adapt: the dataset's elements must be dicts of features "
                             f"(map(lambda x, y: x) drops labels), got {type(first).__name__}")
        missing = [n for n in self.features if n not in first]
        if missing:
            raise ValueError(f"FeatureSpace.adapt: the dataset has no feature {missing}")
        for n in self._adaptable():
            column = dataset.map(lambda x, n=n: x[n])
            rank = np.ndim(next(iter(column)))
            if rank == 0:
                column = column.batch(32)
            if rank in (0, 1):
                column = column.map(lambda v: np.expand_dims(np.asarray(v), -1))
            self.preprocessors[n].adapt(column)
        self._is_adapted = True
        self.get_encoded_features()

    def _check_adapted(self):
        if not self._is_adapted:
            if self._adaptable():
                raise ValueError("FeatureSpace: call adapt(dataset) before using it")
            self._is_adapted = True

    # -- the encoding, symbolic or eager ---------------------------------------------------------

    def _cardinality(self, name, layer):
        kind = type(layer).__name__
        if kind in ("IntegerLookup", "StringLookup"):
            return layer.vocabulary_size()
        if kind in ("HashedCrossing", "Hashing"):
            return layer.num_bins
        if kind == "Discretization":
            return len(layer.bin_boundaries) + 1
        if kind == "CategoryEncoding":
            return layer.num_tokens
        raise ValueError(f"FeatureSpace: feature '{name}' has output_mode='one_hot' but its preprocessor "
                         f"{kind} has no known number of categories; use output_mode='int'")

    def _encode(self, values):
        """{feature: (batch, 1) values or KerasTensors} -> the concatenated encoding, or a dict."""
        pre = {n: self.preprocessors[n](values[n]) for n in self.features}
        crossed = {c.name: self.crossers[c.name]([pre[f] for f in c.feature_names]) for c in self.crosses}
        names = sorted(pre) + sorted(crossed)
        specs = {**self.features, **self.crosses_by_name}
        out = {}
        for n in names:
            v = pre[n] if n in pre else crossed[n]
            if specs[n].output_mode == "one_hot":
                encoder = self.one_hot_encoders.get(n)
                if encoder is None:
                    layer = self.preprocessors.get(n) or self.crossers[n]
                    encoder = _layers().CategoryEncoding(num_tokens=self._cardinality(n, layer),
                                                         output_mode="multi_hot")
                    self.one_hot_encoders[n] = encoder
                v = encoder(v)
            elif self.output_mode == "concat" and (
                    str(getattr(v, "dtype", "float32")).startswith(("int", "uint")) or str(v.dtype) == "string"):
                raise ValueError(f"FeatureSpace: cannot concatenate feature '{n}': it is not encoded (dtype "
                                 f"{v.dtype}); give it output_mode='one_hot' or use output_mode='dict'")
            out[n] = v
        if self.output_mode == "dict":
            return out
        if self.concat is None:
            self.concat = _layers().Concatenate(axis=-1)
        return self.concat([out[n] for n in names])

    def get_inputs(self):
        """The dict of keras.Input, one (1,)-shaped input per feature, of its dtype."""
        self._check_adapted()
        self.get_encoded_features()
        return self.inputs

    def get_encoded_features(self):
        """The encoding of get_inputs() as a symbolic tensor (or dict of them)."""
        self._check_adapted()
        if self.encoded_features is None:
            self.encoded_features = self._encode(self.inputs)
        return self.encoded_features

    def __call__(self, data):
        """Encode a dict of data: each feature a batch (batch,) / (batch, 1) or one sample (a
        scalar; the result then has no batch axis)."""
        self._check_adapted()
        self.get_encoded_features()
        if not isinstance(data, dict):
            raise ValueError(f"FeatureSpace: can only be called with a dict of features, got {type(data).__name__}")
        missing = [n for n in self.features if n not in data]
        if missing:
            raise ValueError(f"FeatureSpace: the data has no feature {missing}")
        columns, single = {}, False
        for n in self.features:
            a = _column(data[n], self.features[n].dtype)
            if a.ndim == 0:
                a, single = a.reshape(1, 1), True
            elif a.ndim == 1:
                a = a[:, None]
            columns[n] = a
        out = self._encode(columns)
        if not single:
            return out
        if self.output_mode == "concat":
            return _drop_batch(out)
        return {k: _drop_batch(v) for k, v in out.items()}

    def save(self, filepath):
        """Write the adapted FeatureSpace to a ``.keras`` file that ``keras.saving.load_model``
        reads back as a FeatureSpace (keras.io "FeatureSpace advanced use cases"). The file is a
        corenn model file of the preprocessing model get_inputs() -> get_encoded_features(),
        whose layers keep their adapted state (vocabularies, means, bin boundaries), plus which
        of its layers serve which feature, cross and one-hot encoding."""
        if not str(filepath).endswith(".keras"):
            raise ValueError(f"FeatureSpace.save: the file name must end in .keras, got {str(filepath)!r}")
        self._check_adapted()
        encoded = self.get_encoded_features()
        model = SavedFeatureSpace(self.inputs, encoded, name=self.name)
        model.feature_space_config = self._saving_config()
        model.save(filepath)

    def _saving_config(self):
        return {"output_mode": self.output_mode,
                "features": {n: {"dtype": f.dtype, "output_mode": f.output_mode, "layer": f.preprocessor.name}
                             for n, f in self.features.items()},
                "crosses": [dict(c.get_config(), feature_names=list(c.feature_names), layer=self.crossers[c.name].name)
                            for c in self.crosses],
                "one_hot_encoders": {n: e.name for n, e in self.one_hot_encoders.items()},
                "concat": None if self.concat is None else self.concat.name}

    @classmethod
    def _from_saved(cls, model):
        """The FeatureSpace a SavedFeatureSpace model file describes: its layers, adapted."""
        cfg = model.feature_space_config
        by_name = {layer.name: layer for layer in model.layers}
        space = cls.__new__(cls)
        space.name = model.name
        space.output_mode = cfg["output_mode"]
        space.crossing_dim = space.hashing_dim = space.num_discretization_bins = None
        space.features = {n: Feature(f["dtype"], by_name[f["layer"]], f["output_mode"])
                          for n, f in cfg["features"].items()}
        space.crosses = [Cross(c["feature_names"], c["crossing_dim"], c["output_mode"]) for c in cfg["crosses"]]
        space.crosses_by_name = {c.name: c for c in space.crosses}
        space.preprocessors = {n: f.preprocessor for n, f in space.features.items()}
        space.crossers = {c.name: by_name[e["layer"]] for c, e in zip(space.crosses, cfg["crosses"])}
        space.inputs = model.input
        space.one_hot_encoders = {n: by_name[e] for n, e in cfg["one_hot_encoders"].items()}
        space.concat = None if cfg["concat"] is None else by_name[cfg["concat"]]
        space.encoded_features = model.output
        space._is_adapted = True
        return space


def _saved_feature_space_class():
    from ..models.model import Model

    class SavedFeatureSpace(Model):
        """The model a FeatureSpace is saved as (FeatureSpace.save); load_model turns it back
        into the FeatureSpace."""

        def get_config(self):
            return dict(super().get_config(), feature_space=self.feature_space_config)

        @classmethod
        def from_config(cls, config, custom_objects=None, prepare_layer=None):
            config = dict(config)
            fs = config.pop("feature_space", None)
            if not isinstance(fs, dict):
                raise ValueError("FeatureSpace file: the config has no feature_space entry")
            model = super().from_config(config, custom_objects, prepare_layer)
            model.feature_space_config = fs
            return model

    return SavedFeatureSpace


SavedFeatureSpace = _saved_feature_space_class()
from .. import saving as _saving  # noqa: E402
_saving.register_model_class("SavedFeatureSpace", SavedFeatureSpace)


def _pre_name(name, kind):
    from ..layers.base import unique_name
    return f"{name}_preprocessor" if name else unique_name(f"{kind}_preprocessor")


def _column(value, dtype):
    """One feature's data as a NumPy array: strings as str, integers as int64, floats as float32."""
    from .. import kernels
    a = np.asarray(value.numpy() if isinstance(value, kernels.Tensor) else value)
    if dtype == "string":
        if a.dtype.kind in "SO":
            a = np.vectorize(lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v), otypes=[object])(a) \
                if a.size else a.astype(object)
        return a.astype(object)
    if dtype.startswith("int"):
        return a.astype(np.int64)
    return a.astype(np.float32)


def _drop_batch(t):
    from .. import ops
    return ops.squeeze(t, axis=0) if builtins.len(t.shape) >= 2 and t.shape[0] == 1 else t
