"""The kept int8 kernel (cpu/int8_kept_kernel.cpp): a quantized Dense / EinsumDense keeps its
int8 kernel's packed form (the AVX2 / AVX-512 rows kernels' pair panels; the reference reads the
int8 kernel in place and keeps nothing) on the kernel's storage, keyed by its write version.

These tests check that the kept form gives the bits of the per-call one (quantized_matmul with
keep=False, the path every call took before) and of an independent NumPy computation, that it is
really kept and reused, and that every way of changing the int8 weight behind it (set_weights,
assign, a NumPy view, load_weights, a .keras file, an op writing it) reaches the next call: a
stale kept kernel would fail them.
"""
import gc

import numpy as np
import pytest

import corenn
from corenn import Tensor, kernels, layers as L

from conftest import ISAS
from weight_write_paths import INT8_WRITES


def _int8_ref(x, kq, sk, bias=None, relu=False):
    """The quantized product in NumPy, float32 in Keras' order (exact int64 accumulation): the
    bits corenn's kernel must give."""
    x = np.asarray(x, np.float32)
    amax = np.abs(x).max(axis=-1, keepdims=True)
    sx = (np.float32(127) / (amax + np.float32(1e-7))).astype(np.float32)
    qx = np.clip(np.rint(x * sx), -127, 127)
    acc = (qx.astype(np.int64) @ np.asarray(kq).astype(np.int64)).astype(np.float32)
    y = acc / (np.asarray(sk, np.float32) * sx)
    if bias is not None:
        y = y + np.asarray(bias, np.float32)
    return np.maximum(y, 0) if relu else y


def _mlp(seed=0, sizes=(40, 24, 3), features=20):
    corenn.utils.set_random_seed(seed)
    model = corenn.Sequential([L.Input(shape=(features,))]
                              + [L.Dense(u, activation="relu") for u in sizes[:-1]] + [L.Dense(sizes[-1])])
    model.quantize("int8")
    return model


def _dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, L.Dense)]


def _reference(model, x):
    h = np.asarray(x, np.float32)
    dense = _dense_layers(model)
    for i, layer in enumerate(dense):
        b, kq, sk = layer.get_weights()   # Keras 3's order: bias first
        h = _int8_ref(h, kq, sk, b, relu=i < len(dense) - 1)
    return h


class _PerCall:
    """quantized_matmul with keep=False: the int8 kernel made from the weight on every call."""
    original = kernels.quantized_matmul

    def __enter__(self):
        kernels.quantized_matmul = lambda *a, keep=False, **k: _PerCall.original(*a, keep=False, **k)

    def __exit__(self, *exc):
        kernels.quantized_matmul = _PerCall.original


def _x(n=64, features=20, seed=1):
    return np.random.default_rng(seed).standard_normal((n, features)).astype(np.float32)


def _check(model, x, how=("predict", "call", "predict_on_batch")):
    """Every inference path gives the bits of the NumPy reference from the current weights."""
    want = _reference(model, x)
    for h in how:
        if h == "predict":
            got = model.predict(x, batch_size=len(x), verbose=0)
        elif h == "call":
            got = np.asarray(model(x, training=False))
        else:
            got = model.predict_on_batch(x)
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6, err_msg=h)
    return want


def _kept_size(k, n):
    """Bytes of the kept form for the active rows kernel: pair panels, or none (the reference
    reads the int8 kernel in place)."""
    nr = {"avx512": 32, "avx2": 16}.get(corenn._C.get_isa(), 0)
    return -(-n // nr) * nr * ((k + 1) // 2) * 4 if nr else 0


# ---- the kept form is used, and gives the per-call bits ------------------------------------------

@pytest.mark.parametrize("m,k,n", [(1, 784, 256), (3, 300, 500), (64, 20, 40), (100, 65, 47), (257, 33, 130)])
def test_kept_equals_per_call_bit_for_bit_on_every_isa(isa, rng, m, k, n):
    x = rng.standard_normal((m, k)).astype(np.float32)
    kq = kernels.empty((k, n), "int8")                   # a corenn-owned storage, as a weight is
    kq.copy_(Tensor.from_numpy(rng.integers(-127, 128, (k, n)).astype(np.int8)))
    sk = rng.uniform(1, 100, n).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    per_call = np.asarray(kernels.quantized_matmul(x, kq, sk, bias)).copy()
    assert kernels._int8_kept_bytes(kq) == 0
    for _ in range(3):
        kept = np.asarray(kernels.quantized_matmul(x, kq, sk, bias, keep=True))
        np.testing.assert_array_equal(kept, per_call)
    assert kernels._int8_kept_bytes(kq) == _kept_size(k, n)
    np.testing.assert_allclose(per_call, _int8_ref(x, np.asarray(kq), sk, bias), rtol=2e-6, atol=1e-6)


def test_predict_reuses_the_kept_kernel_and_matches_the_per_call_path():
    model, x = _mlp(), _x()
    want = _check(model, x)
    for layer in _dense_layers(model):
        k, n = layer.kernel.shape
        assert kernels._int8_kept_bytes(layer.kernel) == _kept_size(k, n), layer.name
    before = kernels._int8_kept_stats()
    for _ in range(3):
        got = model.predict_on_batch(x)
    after = kernels._int8_kept_stats()
    assert after["hits"] - before["hits"] == 3 * len(_dense_layers(model))
    assert after["makes"] == before["makes"]
    with _PerCall():
        np.testing.assert_array_equal(model.predict_on_batch(x), got)
    np.testing.assert_array_equal(got, model.predict_on_batch(x))
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_thread_counts_one_and_two_give_the_same_bits():
    """Tasks split the columns when the rows are few (batch 1): any split gives the same sums."""
    model = _mlp(sizes=(256, 256, 10), features=784)
    old = corenn.get_num_threads()
    try:
        for n in (1, 2, 7, 100, 256):
            x = _x(n, 784, seed=n)
            outs = []
            for threads in (1, 2):
                corenn.set_num_threads(threads)
                outs.append(model.predict_on_batch(x).copy())
            np.testing.assert_array_equal(outs[0], outs[1], err_msg=f"batch {n}")
            np.testing.assert_allclose(outs[0], _reference(model, x), rtol=2e-6, atol=1e-6)
    finally:
        corenn.set_num_threads(old)


def test_isa_change_remakes_the_kept_kernel():
    """The key holds the rows kernel: switching the ISA never reads panels of another format."""
    model, x = _mlp(), _x()
    old = corenn._C.get_isa()
    outs = []
    try:
        for name in ISAS + ISAS[::-1]:
            corenn._C.set_isa(name)
            before = kernels._int8_kept_stats()
            outs.append(model.predict_on_batch(x).copy())
            layer = _dense_layers(model)[0]
            if _kept_size(*layer.kernel.shape):
                assert kernels._int8_kept_bytes(layer.kernel) == _kept_size(*layer.kernel.shape)
            else:   # the reference reads the int8 kernel in place: the cache is not consulted
                after = kernels._int8_kept_stats()
                assert (after["hits"], after["makes"]) == (before["hits"], before["makes"])
    finally:
        corenn._C.set_isa(old)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_einsum_dense_keeps_its_kernel_and_stays_correct(rng):
    layer = L.EinsumDense("ab,bc->ac", output_shape=24, bias_axes="c")
    model = corenn.Sequential([L.Input(shape=(20,)), layer])
    model.quantize("int8")
    x = _x()
    first = model.predict_on_batch(x).copy()
    assert kernels._int8_kept_bytes(layer.kernel) == _kept_size(20, 24)
    b, kq, sk = layer.get_weights()   # Keras 3's order: bias first
    np.testing.assert_allclose(first, _int8_ref(x, kq, sk.reshape(-1), b), rtol=2e-6, atol=1e-6)
    new = rng.integers(-127, 128, kq.shape).astype(np.int8)
    layer.set_weights([b, new, sk])
    np.testing.assert_allclose(model.predict_on_batch(x), _int8_ref(x, new, sk.reshape(-1), b),
                               rtol=2e-6, atol=1e-6)


# ---- every write path reaches the next call ----------------------------------------------------

def _new_kernel(layer, seed):
    return np.random.default_rng(seed).integers(-127, 128, tuple(layer.kernel.shape)).astype(np.int8)


@pytest.mark.parametrize("write", INT8_WRITES, ids=[w.__name__[7:] for w in INT8_WRITES])
@pytest.mark.parametrize("which", [0, 2])
def test_every_write_path_reaches_the_next_call(write, which):
    model, x = _mlp(), _x()
    before = _check(model, x)
    layer = _dense_layers(model)[which]
    assert kernels._int8_kept_bytes(layer.kernel) > 0
    v = _new_kernel(layer, 7)
    write(model, layer, v)
    gc.collect()
    np.testing.assert_array_equal(layer.get_weights()[1], v)   # [bias, kernel, scale]
    after = _check(model, x)
    assert np.abs(after - before).max() > 1e-3        # the new kernel changed the output
    with _PerCall():
        np.testing.assert_array_equal(model.predict_on_batch(x), after)
    assert kernels._int8_kept_bytes(layer.kernel) > 0   # and it is kept again, from the new values


def test_a_live_numpy_view_bypasses_the_kept_kernel():
    model, x = _mlp(), _x()
    _check(model, x)
    layer = _dense_layers(model)[0]
    view = np.asarray(layer.kernel)
    for seed in (11, 12, 13):
        view[...] = _new_kernel(layer, seed)
        _check(model, x)
    assert kernels._int8_kept_bytes(layer.kernel) == 0
    del view
    gc.collect()
    _check(model, x)
    assert kernels._int8_kept_bytes(layer.kernel) > 0


def test_a_value_that_is_no_int8_is_refused_when_written():
    """The int8 kernel holds int8 values by construction: set_weights refuses a value that is no
    int8 integer by name (Keras would truncate or wrap it), writes nothing, and the kept kernel
    stays valid; a float array of the integers is taken exactly."""
    model, x = _mlp(), _x()
    want = _check(model, x)
    layer = _dense_layers(model)[1]
    b, kq, sk = layer.get_weights()
    assert kq.dtype == np.int8
    for bad, shown in ((0.5, "0.5"), (128, "128.0"), (np.nan, "nan")):
        v = kq.astype(np.float64)
        v[2, 5] = bad
        with pytest.raises(ValueError, match=rf"set_weights: weight 'kernel': expected int8 values.*{shown} at flat index "
                                             rf"{2 * kq.shape[1] + 5}"):
            layer.set_weights([b, v, sk])
        np.testing.assert_array_equal(layer.get_weights()[1], kq)
        np.testing.assert_array_equal(model.predict_on_batch(x), want)
    assert kernels._int8_kept_bytes(layer.kernel) == _kept_size(*layer.kernel.shape)
    v = _new_kernel(layer, 3)
    layer.set_weights([b, v.astype(np.float32), sk])
    np.testing.assert_array_equal(layer.get_weights()[1], v)
    _check(model, x)


def test_load_weights_load_model_and_quantize_on_a_copy(tmp_path):
    model, x = _mlp(), _x()
    _check(model, x)
    other = _mlp(seed=9)
    other.save_weights(str(tmp_path / "w.weights.npz"))
    model.load_weights(str(tmp_path / "w.weights.npz"))
    np.testing.assert_array_equal(model.predict_on_batch(x), other.predict_on_batch(x))
    _check(model, x)
    other = _mlp(seed=10)
    other.save(str(tmp_path / "m.keras"))
    model.load_weights(str(tmp_path / "m.keras"))
    got = _check(model, x)
    np.testing.assert_array_equal(got, other.predict_on_batch(x))
    loaded = corenn.models.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_array_equal(loaded.predict_on_batch(x), got)
    _check(loaded, x)
    for layer in _dense_layers(loaded):     # a loaded model's kernels are its own: kept too
        assert kernels._int8_kept_bytes(layer.kernel) == _kept_size(*layer.kernel.shape)
    # quantize called on a clone of a float model: its own kernels, its own kept forms
    corenn.utils.set_random_seed(4)
    base = corenn.Sequential([L.Input(shape=(20,)), L.Dense(40, activation="relu"), L.Dense(3)])
    float_out = base.predict_on_batch(x).copy()
    for seed in (5, 6):
        clone = corenn.models.clone_model(base)
        clone.set_weights([w * (seed - 4) for w in base.get_weights()])
        clone.quantize("int8")
        _check(clone, x)
    np.testing.assert_array_equal(base.predict_on_batch(x), float_out)


def test_fit_trains_the_bias_and_keeps_the_frozen_int8_kernel():
    model, x = _mlp(), _x()
    model.compile(optimizer="sgd", loss="mse")
    y = np.ones((len(x), 3), np.float32)
    kernels_before = [layer.get_weights()[1] for layer in _dense_layers(model)]   # [bias, kernel, scale]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for layer, kq in zip(_dense_layers(model), kernels_before):
        np.testing.assert_array_equal(layer.get_weights()[1], kq)
        assert kernels._int8_kept_bytes(layer.kernel) > 0
    _check(model, x)

