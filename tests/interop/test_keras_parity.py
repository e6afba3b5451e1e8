"""corenn against what Keras 3 itself computes (tests/interop/keras_fixtures/parity.npz, written
by tools/make_keras_parity_fixture.py with Keras on the torch backend), for the cases of
keras_parity_cases.py:

- 184 layer configurations: Keras' weights set into corenn's layer, then the outputs and the
  gradients with respect to the inputs and the trainable weights;
- 25 optimizer set-ups fitting the same classifier: the loss history and the final weights;
- 27 losses with and without sample weights (value and gradient) and 43 metrics;
- 9 models fit from Keras' initial weights (batch norm, masking, bidirectional GRU per step, a
  Transformer block, multiple inputs and outputs with loss weights, regularizers, ConvLSTM2D):
  the logs of every epoch, evaluate, and the final weights;
- 266 keras.ops expressions (values) and 165 (gradients in every float input they read).
"""
import os

import numpy as np
import pytest

import corenn
from corenn import keras

import keras_parity_cases as cases

FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "keras_fixtures", "parity.npz"))
KEYS = set(FIXTURE.files)


def _arrays(prefix, letter):
    out, j = [], 0
    while f"{prefix}/{letter}{j}" in KEYS:
        out.append(FIXTURE[f"{prefix}/{letter}{j}"])
        j += 1
    return out


def _close(got, want, what, rtol=1e-4, atol=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, Keras {want.shape}"
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, err_msg=what)


LAYER_CASES = [c for c in cases.LAYER_CASES if f"layer/{c['name']}/y0" in KEYS]


def test_the_fixture_holds_every_case():
    # a case Keras could not run is left out of the file by the generator: none is
    assert len(LAYER_CASES) == len(cases.LAYER_CASES) == 187
    assert all(f"opt/{n}/loss" in KEYS for n in cases.optimizers(keras))
    assert all(f"metric/{n}" in KEYS for n in cases.METRICS)


@pytest.mark.parametrize("case", LAYER_CASES, ids=[c["name"] for c in LAYER_CASES])
def test_layer_outputs_and_gradients_match_keras(case):
    key = f"layer/{case['name']}"
    layer = cases.make_layer(keras, case)
    xs = _arrays(key, "x")
    cases.call_layer(layer, case, xs)   # builds it
    weights = _arrays(key, "w")
    assert [tuple(w.shape) for w in layer.get_weights()] == [tuple(w.shape) for w in weights], "weights differ from Keras'"
    layer.set_weights(weights)
    ys = cases.call_layer(layer, case, xs)
    ys = ys if isinstance(ys, list) else [ys]
    want = _arrays(key, "y")
    assert len(ys) == len(want)
    for j, (y, w) in enumerate(zip(ys, want)):
        y = np.asarray(y)
        assert y.dtype == w.dtype or (y.dtype.kind == w.dtype.kind == "f"), f"output {j}: dtype {y.dtype}, Keras {w.dtype}"
        _close(y, w, f"output {j}")
    if f"{key}/gx0" not in KEYS and f"{key}/gw0" not in KEYS:
        return
    txs = [corenn.constant(x) for x in xs]
    r = np.random.default_rng(1000 + cases.LAYER_CASES.index(case)).standard_normal(want[0].shape).astype("float32")
    with corenn.GradientTape() as tape:
        for t in txs:
            tape.watch(t)
        loss = corenn.reduce_sum(cases.call_layer(layer, case, txs) * r)
    trainable = list(layer.trainable_weights)
    grads = tape.gradient(loss, txs + trainable)
    for j, g in enumerate(grads):
        name = f"gx{j}" if j < len(txs) else f"gw{j - len(txs)}"
        if f"{key}/{name}" in KEYS:
            want_g = FIXTURE[f"{key}/{name}"]
            _close(np.zeros_like(want_g) if g is None else g, want_g, f"gradient {name}", rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", list(cases.optimizers(keras)))
def test_optimizer_fit_matches_keras(name):
    x, y, w0 = cases.optimizer_problem()
    model = cases.optimizer_model(keras, w0)
    model.compile(cases.optimizers(keras)[name](), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0).history["loss"]
    _close(hist, FIXTURE[f"opt/{name}/loss"], "loss history", atol=1e-5)
    for j, (w, want) in enumerate(zip(model.get_weights(), _arrays(f"opt/{name}", "w"))):
        _close(w, want, f"weight {j}", atol=1e-5)


@pytest.mark.parametrize("name", list(cases.LOSSES))
def test_loss_values_and_gradients_match_keras(name):
    cls, kw, yt, yp = cases.LOSSES[name]
    t = cases.TARGETS
    loss = getattr(keras.losses, cls)(**kw)
    for tag, w in (("plain", None), ("weighted", t["weights"])):
        pred = corenn.constant(t[yp])
        with corenn.GradientTape() as tape:
            tape.watch(pred)
            value = loss(t[yt], pred, sample_weight=w)
            total = corenn.reduce_sum(value)
        _close(value, FIXTURE[f"loss/{name}/{tag}/value"], f"{tag} value")
        _close(tape.gradient(total, pred), FIXTURE[f"loss/{name}/{tag}/grad"], f"{tag} gradient")


@pytest.mark.parametrize("name", list(cases.METRICS))
def test_metric_results_match_keras(name):
    cls, kw, yt, yp = cases.METRICS[name]
    t = cases.TARGETS
    m = getattr(keras.metrics, cls)(**kw)
    m.update_state(t[yt], t[yp])
    m.update_state(t[yt][:4], t[yp][:4], sample_weight=t["weights"][:4])
    _close(m.result(), FIXTURE[f"metric/{name}"], "result")


FITS = cases.fit_models(keras)


@pytest.mark.parametrize("name", list(FITS))
def test_model_fit_matches_keras(name):
    model, loss, x, y, extra, sw = FITS[name]()
    model.set_weights(_arrays(f"fit/{name}", "init"))
    model.compile(keras.optimizers.Adam(0.01), loss, **extra)
    hist = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, sample_weight=sw).history
    want_keys = {k.split("/")[3] for k in KEYS if k.startswith(f"fit/{name}/hist/")}
    assert set(hist) == want_keys
    for k in hist:
        _close(hist[k], FIXTURE[f"fit/{name}/hist/{k}"], f"logs {k}", rtol=1e-3, atol=1e-4)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {k.split("/")[3] for k in KEYS if k.startswith(f"fit/{name}/eval/")}
    for k, v in logs.items():
        _close(v, FIXTURE[f"fit/{name}/eval/{k}"], f"evaluate {k}", rtol=1e-3, atol=1e-4)
    for j, (w, want) in enumerate(zip(model.get_weights(), _arrays(f"fit/{name}", "w"))):
        _close(w, want, f"weight {j}", rtol=1e-3, atol=1e-3)


OPS_ENV = cases.ops_env()
OPS_NAMES = cases.ops_namespace(keras)

# Integer results must have Keras' dtype too (int32 indices and counts, int32 & 3 int32 ...),
# except where the fixture's torch backend differs from Keras' TensorFlow backend, which corenn
# follows, or where a corenn Tensor cannot hold Keras' dtype
INT_DTYPE_DIFFERS = {
    "sum(u8, axis=0)": "uint32 on TensorFlow and JAX (corenn follows them); the torch backend, which has no uint32, gives int32",
    "top_k(x, 2)[1]": "int32 on TensorFlow (tf.math.top_k); torch's topk gives int64",
    "unravel_index(iv, (2, 3))[0]": "the indices' int64 on TensorFlow and NumPy; the torch backend casts to int32",
}

# float64 in an op that promotes through keras.backend.result_type: Keras' TensorFlow backend
# computes and returns float64, as corenn does; its torch and JAX backends map float64 to float32
# there (result_type's BIT64_TO_BIT32_DTYPE), and the fixture is written on torch: a float32
# result, or (mean) float32 arithmetic cast back to float64
FLOAT_DTYPE_DIFFERS = {
    'mean(cast(x, "float64"))': "float64 arithmetic on TensorFlow (corenn follows it); float32 on torch and JAX",
    'matmul(cast(x, "float64"), m)': "float64 on TensorFlow (corenn follows it); float32 on torch and JAX",
    'maximum(cast(x, "float64"), y)': "float64 on TensorFlow (corenn follows it); float32 on torch and JAX",
}


def test_the_fixture_holds_every_ops_expression():
    assert all(f"ops/value/{k}" in KEYS for k in range(len(cases.OPS_VALUES)))
    assert all(any(key.startswith(f"ops/grad/{k}/") for key in KEYS) for k in range(len(cases.OPS_GRADS)))


@pytest.mark.parametrize("k", range(len(cases.OPS_VALUES)), ids=cases.OPS_VALUES)
def test_ops_values_match_keras(k):
    with np.errstate(all="ignore"):   # x / z divides NumPy arrays by zero on purpose (isinf, nan_to_num)
        got = eval(cases.OPS_VALUES[k], dict(OPS_NAMES, **OPS_ENV))   # noqa: S307 - the cases module's expressions
    got = got[0] if isinstance(got, (list, tuple)) else got
    want = FIXTURE[f"ops/value/{k}"]
    if isinstance(got, corenn.Tensor) and want.dtype.kind in "iu" and cases.OPS_VALUES[k] not in INT_DTYPE_DIFFERS:
        # (shape / ndim / size give Python ints, as Keras' TensorFlow, JAX and NumPy backends do)
        assert got.dtype == want.dtype, f"dtype {got.dtype}, Keras {want.dtype}"
    if cases.OPS_VALUES[k] in cases.WIDE_FLOAT_VALUES:
        # float64 / float16 results: Keras' dtype, and float64 computed in float64
        assert isinstance(got, corenn.Tensor)
        if cases.OPS_VALUES[k] in FLOAT_DTYPE_DIFFERS:
            assert got.dtype == "float64"
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-7)
            return
        assert got.dtype == want.dtype, f"dtype {got.dtype}, Keras {want.dtype}"
        tol = dict(rtol=1e-12, atol=1e-15) if want.dtype == np.float64 else dict(rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(np.asarray(got), want, **tol)
        return
    got = np.asarray(got)
    assert got.shape == want.shape, f"shape {got.shape}, Keras {want.shape}"
    # truth values are bool on both sides (comparisons, logical ops, predicates)
    assert (got.dtype == np.bool_) == (want.dtype == np.bool_), f"dtype {got.dtype}, Keras {want.dtype}"
    kind = np.complex128 if "c" in (got.dtype.kind, want.dtype.kind) else np.float64
    np.testing.assert_allclose(got.astype(kind), want.astype(kind), rtol=1e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("k", range(len(cases.OPS_GRADS)), ids=cases.OPS_GRADS)
def test_ops_gradients_match_keras(k):
    expr = cases.OPS_GRADS[k]
    names = cases.names_in(expr)
    tens = {n: corenn.constant(OPS_ENV[n]) for n in names}
    with corenn.GradientTape() as tape:
        for t in tens.values():
            tape.watch(t)
        y = eval(expr, {**OPS_NAMES, **OPS_ENV, **tens})   # noqa: S307
        r = np.random.default_rng(k).standard_normal(tuple(np.asarray(y).shape)).astype("float32")
        total = corenn.reduce_sum(y * r)
    for n, g in zip(names, tape.gradient(total, list(tens.values()))):
        want = FIXTURE[f"ops/grad/{k}/{n}"]
        _close(np.zeros_like(want) if g is None else g, want, f"gradient in {n}", rtol=1e-3, atol=1e-4)
