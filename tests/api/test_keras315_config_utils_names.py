"""Keras 3.15's smaller names: activations.sparse_sigmoid, keras.config (max epochs / steps, interactive
logging, flash attention, set_backend ...), keras.utils (Config, get_source_inputs, ...), keras.backend
(get_uid, is_float_dtype, is_int_dtype), keras.tree (MAP_TO_NONE, assert_same_paths) and
keras.dtype_policies."""
import io
import logging
import warnings

import numpy as np
import pytest

import corenn
from corenn import keras
from reference import numerical_grad


def test_sparse_sigmoid_values_gradient_and_use_by_name(tmp_path):
    x = np.array([-2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 1.7], np.float32)
    want = np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, 0.5 * (x + 1.0)))
    np.testing.assert_allclose(np.asarray(keras.activations.sparse_sigmoid(x)), want)
    inner = np.array([-0.7, -0.2, 0.4, 0.9], np.float32)   # away from the kinks
    t = keras.ops.convert_to_tensor(inner)
    with corenn.GradientTape() as tape:
        tape.watch(t)
        y = keras.ops.sum(keras.ops.multiply(keras.activations.sparse_sigmoid(t), np.float32([1, 2, 3, 4])))
    fd = numerical_grad(lambda v: float((0.5 * (v + 1) * np.array([1, 2, 3, 4])).sum()), inner)
    np.testing.assert_allclose(np.asarray(tape.gradient(y, t)), fd, rtol=1e-5)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="sparse_sigmoid")])
    assert model.layers[0].get_config()["activation"] == "sparse_sigmoid"
    model.save(tmp_path / "m.keras")
    data = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "m.keras").predict(data, verbose=0),
                                  model.predict(data, verbose=0))


def test_fit_honours_max_epochs_and_max_steps_per_epoch():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((64, 3)).astype(np.float32), rng.standard_normal((64, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    assert keras.config.max_epochs() is None and keras.config.max_steps_per_epoch() is None
    try:
        keras.config.set_max_epochs(2)
        keras.config.set_max_steps_per_epoch(3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
        assert len(history.history["loss"]) == 2 and model.optimizer.iterations == 6
        assert {"Limiting epochs to 2", "Limiting steps_per_epoch to 3"} <= {str(w.message) for w in caught}
        history = model.fit(x, y, epochs=1, batch_size=8, steps_per_epoch=2, verbose=0)   # under the cap
        assert model.optimizer.iterations == 8
        with pytest.raises(ValueError, match="positive int"):
            keras.config.set_max_epochs(0)
    finally:
        keras.config.set_max_epochs(None)
        keras.config.set_max_steps_per_epoch(None)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert model.optimizer.iterations == 8 + 16


def test_disabled_interactive_logging_keeps_fit_off_stdout(capsys, caplog):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 3)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    assert keras.config.is_interactive_logging_enabled()
    try:
        keras.config.disable_interactive_logging()
        assert not keras.utils.is_interactive_logging_enabled()
        with caplog.at_level(logging.INFO, logger="corenn"):
            model.fit(x, y, epochs=2, verbose=1)
        assert capsys.readouterr().out == ""
        assert any("Epoch 2/2" in r.getMessage() for r in caplog.records)
        assert any("loss" in r.getMessage() for r in caplog.records)
        out = io.StringIO()   # a bar given its own stream still writes there, as plain lines
        bar = keras.utils.Progbar(2, stream=out)
        bar.update(1)
        bar.update(2)
        assert "\r" not in out.getvalue() and out.getvalue().endswith("\n")
    finally:
        keras.config.enable_interactive_logging()
    model.fit(x, y, epochs=1, verbose=1)
    assert "loss" in capsys.readouterr().out


def test_config_switches_and_set_backend():
    assert keras.config.is_flash_attention_enabled() is None
    keras.config.disable_flash_attention()
    assert keras.config.is_flash_attention_enabled() is False
    keras.config.enable_flash_attention()
    assert keras.config.is_flash_attention_enabled() is None
    keras.config.enable_unsafe_deserialization()
    keras.config.set_backend("corenn")
    with pytest.raises(ValueError, match="no 'jax' backend"):
        keras.config.set_backend("jax")
    assert keras.config.is_nnx_enabled() is False
    assert keras.config.floatx() == "float32" and keras.config.backend() == "corenn"


def test_utils_config_source_inputs_and_backend_helpers():
    cfg = keras.utils.Config(learning_rate=0.1)
    cfg.momentum = 0.9
    cfg["seed"] = 1
    assert (cfg.learning_rate, cfg["momentum"], list(cfg), len(cfg)) == (0.1, 0.9, ["learning_rate", "momentum",
                                                                                      "seed"], 3)
    assert cfg.as_dict() == {"learning_rate": 0.1, "momentum": 0.9, "seed": 1}
    assert cfg.to_json() == '{"learning_rate": 0.1, "momentum": 0.9, "seed": 1}'
    cfg.freeze()
    with pytest.raises(ValueError, match="frozen"):
        cfg.seed = 2
    cfg.unfreeze()
    del cfg["seed"]
    with pytest.raises(AttributeError, match="Did you mean 'momentum'"):
        cfg.momentun
    a, b = keras.Input((3,)), keras.Input((3,))
    merged = keras.layers.Concatenate()([keras.layers.Dense(2)(a), keras.layers.Add()([keras.layers.Dense(3)(b), a])])
    sources = keras.utils.get_source_inputs(merged)
    assert len(sources) == 2 and sources[0] is a and sources[1] is b
    assert keras.utils.get_source_inputs(a)[0] is a
    assert keras.utils.is_keras_tensor(merged) and not keras.utils.is_keras_tensor(np.ones(2))
    assert keras.utils.standardize_dtype(np.float16) == "float16" and keras.utils.standardize_dtype("bfloat16") == \
        "bfloat16"
    keras.utils.clear_session()
    assert keras.backend.get_uid("h18") == 1 and keras.backend.get_uid("h18") == 2 and keras.backend.get_uid() == 1
    keras.utils.clear_session()
    assert keras.backend.get_uid("h18") == 1
    assert [keras.backend.is_float_dtype(d) for d in ("float32", np.float16, "int32", "bfloat16", "bool")] == \
        [True, True, False, True, False]
    assert [keras.backend.is_int_dtype(d) for d in ("int8", "uint8", "float32", "bool")] == [True, True, False, False]


def test_tree_map_to_none_and_assert_same_paths():
    s = {"a": [1, 2, (3, 4)], "b": 5}
    drop_tuples = keras.tree.traverse(lambda x: keras.tree.MAP_TO_NONE if isinstance(x, tuple) else None, s)
    assert drop_tuples == {"a": [1, 2, None], "b": 5}
    assert keras.tree.traverse(lambda x: keras.tree.MAP_TO_NONE if x == 5 else None, s, top_down=False) == \
        {"a": [1, 2, (3, 4)], "b": None}
    keras.tree.assert_same_paths([1, 2], (3, 4))   # container types may differ
    with pytest.raises(ValueError, match=r"missing in `b`:\n\[\('a',\)\]"):
        keras.tree.assert_same_paths({"a": 1}, {"b": 1})


def test_dtype_policies_module():
    policy = keras.dtype_policies.get(None)
    assert isinstance(policy, keras.DTypePolicy) and policy.name == "float32"
    spec = keras.dtype_policies.serialize(keras.FloatDTypePolicy("float32"))
    assert spec["class_name"] == "FloatDTypePolicy" and spec["config"] == {"name": "float32"}
    again = keras.dtype_policies.deserialize(spec)
    assert isinstance(again, keras.dtype_policies.FloatDTypePolicy) and again == policy
    assert keras.dtype_policies.get({"class_name": "DTypePolicy", "config": {"name": "float32"}}).name == "float32"
    assert keras.dtype_policies.get(np.float32).compute_dtype == "float32"
    with pytest.warns(UserWarning, match="float32"):
        import corenn.mixed_precision as mp
        mp._warned = False
        assert keras.dtype_policies.get("mixed_bfloat16").compute_dtype == "float32"
    # int8 and int4 are corenn's quantization modes (layers/quantization.py); the others are refused
    assert keras.dtype_policies.get("int8_from_float32").quantization_mode == "int8"
    # Keras 3.15: "int4_from_float32" has no block size, so the layer quantizes per channel
    int4 = keras.dtype_policies.get("int4_from_float32")
    assert (type(int4).__name__, int4.quantization_mode, int4.block_size) == ("Int4DTypePolicy", "int4", -1)
    with pytest.raises(ValueError, match="'float8' is not supported"):
        keras.dtype_policies.get("float8_from_float32")
    assert keras.dtype_policies.get("float64").compute_dtype == "float64"   # computed (layers/_float64.py)
    assert keras.Loss is keras.losses.Loss and keras.Optimizer is keras.optimizers.Optimizer
    assert keras.Metric is keras.metrics.Metric and keras.Initializer is keras.initializers.Initializer
