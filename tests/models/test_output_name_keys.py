"""Dicts keyed by output name (y, sample_weight): a key that names no output raises, naming the
key and the outputs, before anything trains; the known keys are used in the outputs' order."""
import numpy as np
import pytest

import corenn
from corenn import layers as L


def two_output_model():
    x = corenn.Input((3,))
    h = L.Dense(4, activation="relu")(x)
    model = corenn.Model(x, {"a": L.Dense(1, name="a")(h), "b": L.Dense(2, name="b")(h)})
    model.compile("sgd", loss={"a": "mse", "b": "mse"})
    return model


def test_unknown_output_keys_are_named():
    rng = np.random.default_rng(0)
    model = two_output_model()
    x = rng.random((8, 3), dtype=np.float32)
    y = {"a": rng.random((8, 1), dtype=np.float32), "b": rng.random((8, 2), dtype=np.float32)}
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"y has key\(s\) 'c' that name no output; the outputs are a, b"):
        model.fit(x, {"a": y["a"], "c": y["b"]}, verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight has key\(s\) 'zz' that name no output"):
        model.fit(x, y, sample_weight={"zz": np.ones(8, np.float32)}, verbose=0)
    for w, w0 in zip(model.get_weights(), before):   # nothing trained
        np.testing.assert_array_equal(w, w0)
    # the known keys, in any order, train and weight their own outputs
    loss = model.evaluate(x, {"b": y["b"], "a": y["a"]}, verbose=0)
    model.fit(x, y, sample_weight={"b": np.ones(8, np.float32)}, epochs=1, verbose=0)
    assert np.isfinite(loss if np.ndim(loss) == 0 else loss[0])
