"""keras.initializers.Identity and keras.regularizers.OrthogonalRegularizer (Keras 3), and
keras.models.save_model."""
import numpy as np
import pytest

from corenn import keras


def _orthogonal_penalty_ref(w, factor, mode):
    w = np.asarray(w, np.float64)
    if mode == "columns":
        w = w.T
    unit = w / np.sqrt(np.maximum((w * w).sum(axis=1, keepdims=True), 1e-12))
    gram = unit @ unit.T
    n = gram.shape[0]
    return factor * 0.5 * np.abs(gram - np.diag(np.diag(gram))).sum() / (n * (n - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_value_gradient_and_training(rng, mode):
    w = rng.standard_normal((5, 4)).astype(np.float32)
    reg = keras.regularizers.OrthogonalRegularizer(factor=0.3, mode=mode)
    np.testing.assert_allclose(float(reg(w)), _orthogonal_penalty_ref(w, 0.3, mode), rtol=1e-5)
    grad = np.zeros_like(w)
    reg.penalty(w, grad)
    h, num = 1e-4, np.zeros_like(w, dtype=np.float64)
    for i in np.ndindex(w.shape):
        wp, wm = w.astype(np.float64), w.astype(np.float64)
        wp[i] += h
        wm[i] -= h
        num[i] = (_orthogonal_penalty_ref(wp, 0.3, mode) - _orthogonal_penalty_ref(wm, 0.3, mode)) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=2e-3, atol=1e-5)
    again = keras.regularizers.deserialize(keras.regularizers.serialize(reg))
    assert isinstance(again, keras.regularizers.OrthogonalRegularizer) and again.mode == mode
    assert isinstance(keras.regularizers.get("orthogonal_regularizer"), keras.regularizers.OrthogonalRegularizer)


def test_orthogonal_regularizer_in_fit_makes_columns_orthogonal(rng):
    keras.utils.set_random_seed(0)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(
        4, use_bias=False, kernel_regularizer=keras.regularizers.OrthogonalRegularizer(1.0, mode="columns"))])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    start = _orthogonal_penalty_ref(model.get_weights()[0], 1.0, "columns")
    y = model.predict(x, verbose=0)   # the data term starts at 0: the penalty drives the step
    model.fit(x, y, epochs=60, batch_size=64, verbose=0)
    assert _orthogonal_penalty_ref(model.get_weights()[0], 1.0, "columns") < 0.4 * start
    with pytest.raises(ValueError, match="2-D"):
        keras.regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="mode"):
        keras.regularizers.OrthogonalRegularizer(mode="diag")


def test_identity_initializer_and_save_model(tmp_path):
    np.testing.assert_array_equal(keras.initializers.Identity(gain=3.0)((2, 3)), 3 * np.eye(2, 3))
    dense = keras.layers.Dense(3, kernel_initializer="identity")
    dense.build((None, 3))
    np.testing.assert_array_equal(np.asarray(dense.kernel), np.eye(3))
    assert keras.initializers.get(keras.initializers.serialize(keras.initializers.Identity(2.0))).gain == 2.0
    with pytest.raises(ValueError, match="2-D"):
        keras.initializers.Identity()((2, 2, 2))
    model = keras.Sequential([keras.Input((3,)), dense])
    path = str(tmp_path / "m.keras")
    keras.models.save_model(model, path)
    np.testing.assert_array_equal(keras.models.load_model(path).get_weights()[0], np.eye(3))
