"""Weight versions and the packed-weight cache (cpu/gemm/packed_b_cache.cpp).

Dense keeps its kernel packed for the GEMM between calls; the packed copy is keyed by the
storage's write version. These tests change a weight by every write path there is and check that
the next predict / __call__ / predict_on_batch computes with the new values (against the float64
reference), that the cache is really used when nothing changed, and that every op that writes a
tensor advances its version.
"""
import gc

import numpy as np
import pytest

import corenn
from corenn import Tensor, kernels, layers as L

import reference as ref
from weight_write_paths import WRITES

ISAS = ["ref"] + (["avx2"] if corenn._C.cpu_has_avx2_fma() else []) + \
    (["avx512"] if corenn._C.cpu_has_avx512() else [])


def _stats():
    return kernels._packed_b_stats()


def _mlp(seed=0):
    corenn.utils.set_random_seed(seed)
    return corenn.Sequential([L.Input(shape=(20,)), L.Dense(40, activation="relu"),
                              L.Dense(24, activation="relu"), L.Dense(3)])


def _reference(model, x):
    """The MLP in float64 NumPy from the model's current weights."""
    h = x.astype(np.float64)
    dense = [layer for layer in model.layers if isinstance(layer, L.Dense)]
    for i, layer in enumerate(dense):
        w, b = layer.get_weights()
        h = ref.gemm(h, w, bias=b, activation="relu" if i < len(dense) - 1 else "none")
    return h


def _x(n=64, seed=1):
    return np.random.default_rng(seed).standard_normal((n, 20)).astype(np.float32)


def _warm(model, x):
    """Two predicts: the second packs every Dense kernel into the cache; the third hits it."""
    for _ in range(3):
        model.predict(x, batch_size=len(x), verbose=0)
    for layer in model.layers:
        if isinstance(layer, L.Dense):
            assert kernels._packed_b_bytes(layer.kernel) > 0, layer.name


def _check(model, x, how=("predict", "call", "predict_on_batch")):
    want = _reference(model, x)
    for h in how:
        if h == "predict":
            got = model.predict(x, batch_size=len(x), verbose=0)
        elif h == "call":
            got = np.asarray(model(x, training=False))
        else:
            got = model.predict_on_batch(x)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=h)


def test_isa_change_repacks_for_the_new_kernel():
    """The key holds the kernel set: switching the ISA between predicts never reuses panels of
    another tile format."""
    model, x = _mlp(), _x()
    old = corenn._C.get_isa()
    try:
        for name in ISAS + ISAS[::-1]:
            corenn._C.set_isa(name)
            _check(model, x, how=("predict", "predict"))
    finally:
        corenn._C.set_isa(old)


def test_cache_is_dropped_when_the_version_changes_and_freed_with_the_layer():
    model, x = _mlp(), _x()
    _warm(model, x)
    kernel = model.layers[0].kernel
    kernel.fill_(0.01)
    model.predict(x, batch_size=len(x), verbose=0)      # sees the new version: old copy dropped
    assert kernels._packed_b_bytes(kernel) == 0
    model.predict(x, batch_size=len(x), verbose=0)      # second sight: packed again
    assert kernels._packed_b_bytes(kernel) > 0
    _check(model, x)


def test_training_never_packs_into_the_cache():
    """fit changes the weights every step, so its forward never sees a version twice."""
    model, x = _mlp(), _x()
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((len(x), 3), np.float32)
    before = _stats()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert _stats()["packs"] == before["packs"]
    for layer in model.layers:
        assert kernels._packed_b_bytes(layer.kernel) == 0
    _check(model, x)


def test_frozen_layer_is_cached_during_fit_and_stays_correct():
    model, x = _mlp(), _x()
    model.layers[0].trainable = False
    model.compile(optimizer="adam", loss="mse")
    y = np.ones((len(x), 3), np.float32)
    frozen = model.layers[0].get_weights()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert kernels._packed_b_bytes(model.layers[0].kernel) > 0     # unchanged: kept packed
    assert kernels._packed_b_bytes(model.layers[1].kernel) == 0    # trained: never kept
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], frozen[0])
    _check(model, x)


# ---- every write path: the next inference computes with the new weights ------------------------

def _new_kernel(layer, seed):
    return np.random.default_rng(seed).standard_normal(tuple(layer.kernel.shape)).astype(np.float32)


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__[7:] for w in WRITES])
@pytest.mark.parametrize("which", [0, 2])
def test_every_write_path_reaches_the_next_inference(write, which):
    model, x = _mlp(), _x()
    _warm(model, x)
    layer = model.layers[which]
    v = _new_kernel(layer, 7)
    version = layer.kernel._version
    write(model, layer, v)
    gc.collect()
    np.testing.assert_allclose(layer.get_weights()[0], v, rtol=1e-6, atol=1e-6)
    assert layer.kernel._version > version
    _check(model, x)
    # and it is cached again from the new values
    _warm(model, x)
    _check(model, x)


def test_a_live_numpy_view_bypasses_the_cache():
    """Writes through a view that is still alive are seen by every call, not only the next."""
    model, x = _mlp(), _x()
    _warm(model, x)
    layer = model.layers[0]
    view = np.asarray(layer.kernel)
    assert not layer.kernel._versions_trusted
    for seed in (11, 12, 13):
        view[...] = _new_kernel(layer, seed)
        _check(model, x)
        model.predict(x, batch_size=len(x), verbose=0)
    assert kernels._packed_b_bytes(layer.kernel) == 0
    del view
    gc.collect()
    assert layer.kernel._versions_trusted
    _warm(model, x)
    _check(model, x)


def test_a_live_dlpack_capsule_bypasses_the_cache():
    model, x = _mlp(), _x()
    _warm(model, x)
    layer = model.layers[1]
    alias = Tensor.from_dlpack(layer.kernel)
    assert not layer.kernel._versions_trusted
    alias.copy_(Tensor.from_numpy(_new_kernel(layer, 3)))
    _check(model, x)
    _check(model, x)
    alias.fill_(0.25)
    _check(model, x)
    del alias
    gc.collect()
    assert layer.kernel._versions_trusted
    _check(model, x)


def test_load_weights_load_model_and_from_config(tmp_path):
    model, x = _mlp(), _x()
    _warm(model, x)
    other = _mlp(seed=9)
    other.save_weights(str(tmp_path / "w.weights.npz"))
    model.load_weights(str(tmp_path / "w.weights.npz"))
    np.testing.assert_array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))
    _check(model, x)
    other = _mlp(seed=10)
    other.save(str(tmp_path / "m.keras"))
    model.load_weights(str(tmp_path / "m.keras"))     # the weights of a model file
    _check(model, x)
    np.testing.assert_array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))
    loaded = corenn.models.load_model(str(tmp_path / "m.keras"))
    _warm(loaded, x)
    _check(loaded, x)
    clone = corenn.Sequential.from_config(model.get_config())
    clone.set_weights(_mlp(seed=11).get_weights())
    _check(clone, x)
    _warm(clone, x)
    _check(clone, x)


def test_tape_training_step_uses_new_weights():
    """A custom loop: the tape's forward and the optimizer's step; each next call sees the step."""
    model, x = _mlp(), _x()
    _warm(model, x)
    opt = corenn.optimizers.Adam(learning_rate=0.05)
    for _ in range(3):
        with corenn.GradientTape() as tape:
            loss = corenn.ops.mean(corenn.ops.square(model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        _check(model, x, how=("call", "predict_on_batch"))




# ---- recurrent weights: the fused RNN forward keeps R packed the same way ----------------------

def _rnn_reference(layer, x):
    w, r, b = layer.get_weights()
    cell = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}[type(layer).__name__]
    u = r.shape[0]
    states = [np.zeros((len(x), u))] * (2 if cell == "lstm" else 1)
    y, _ = ref.rnn_sequence(lambda xt, s: ref.rnn_cell_step(cell, xt, s, w, r, b), x, states)
    return y


@pytest.mark.parametrize("rnn", [L.LSTM, L.GRU, L.SimpleRNN])
def test_recurrent_kernel_kept_and_every_write_reaches_predict(rnn):
    corenn.utils.set_random_seed(3)
    layer = rnn(16)
    model = corenn.Sequential([L.Input(shape=(7, 5)), layer])
    x = np.random.default_rng(4).standard_normal((40, 7, 5)).astype(np.float32)
    before = _stats()
    for _ in range(3):
        np.testing.assert_allclose(model.predict(x, batch_size=40, verbose=0), _rnn_reference(layer, x),
                                   rtol=1e-4, atol=1e-4)
    assert kernels._packed_b_bytes(layer.recurrent_kernel) > 0
    assert _stats()["hits"] > before["hits"]
    rng = np.random.default_rng(5)
    writes = [lambda r: layer.set_weights([layer.get_weights()[0], r, layer.get_weights()[2]]),
              lambda r: layer.recurrent_kernel.assign(r),
              lambda r: np.copyto(np.asarray(layer.recurrent_kernel), r),
              lambda r: layer.recurrent_kernel.copy_(Tensor.from_numpy(r))]
    for write in writes:
        write((0.5 * rng.standard_normal(tuple(layer.recurrent_kernel.shape))).astype(np.float32))
        gc.collect()
        for how in ("predict", "call", "predict_on_batch"):
            got = (model.predict(x, batch_size=40, verbose=0) if how == "predict" else
                   np.asarray(model(x, training=False)) if how == "call" else model.predict_on_batch(x))
            np.testing.assert_allclose(got, _rnn_reference(layer, x), rtol=1e-4, atol=1e-4, err_msg=how)


def test_recurrent_kernel_not_kept_by_training():
    corenn.utils.set_random_seed(3)
    layer = L.LSTM(8)
    model = corenn.Sequential([L.Input(shape=(6, 4)), layer, L.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(4).standard_normal((32, 6, 4)).astype(np.float32)
    model.fit(x, np.zeros((32, 2), np.float32), batch_size=8, epochs=1, verbose=0)
    assert kernels._packed_b_bytes(layer.recurrent_kernel) == 0
    dense = model.layers[1]
    h = _rnn_reference(layer, x)
    w, b = dense.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), ref.gemm(h, w, bias=b), rtol=1e-4, atol=1e-4)


def test_reading_weights_keeps_the_packed_copy():
    """get_weights / model.get_weights / a variable's numpy() copy without exporting a view, so
    they do not move the version: the packed copy survives them (np.asarray(w) does not)."""
    model, x = _mlp(), _x()
    _warm(model, x)
    kernel = model.layers[0].kernel
    version = kernel._version
    model.get_weights()
    model.layers[0].get_weights()
    snapshot = kernel.numpy()
    snapshot[...] = 0.0                       # a snapshot: writing it changes nothing
    assert kernel._version == version and kernels._packed_b_bytes(kernel) > 0
    before = _stats()
    _check(model, x, how=("predict",))
    assert _stats()["hits"] - before["hits"] == 3
    np.asarray(kernel).sum()                  # a view, even one only read, may have written
    gc.collect()
    assert kernel._version > version


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("m,k,n", [(256, 784, 512), (37, 53, 70), (200, 9, 33), (13, 300, 64), (601, 40, 100)])
def test_kept_weights_read_the_activations_in_place_with_the_same_bits(isa, m, k, n):
    """With the kernel packed beforehand the GEMM reads the activations where they lie (no
    packing of A): predict must give the bits of the first, unkept call, and the reference."""
    prev = corenn._C.get_isa()
    corenn._C.set_isa(isa)
    try:
        corenn.utils.set_random_seed(m + n)
        model = corenn.Sequential([L.Input(shape=(k,)), L.Dense(n)])
        x = np.random.default_rng(k).normal(size=(m, k)).astype(np.float32)
        first = np.asarray(model.predict_on_batch(x)).copy()    # first sight: nothing kept yet
        model.predict_on_batch(x)                                # the second packs the kernel
        before = _stats()
        again = np.asarray(model.predict_on_batch(x))           # the third reads it, A in place
        assert _stats()["hits"] > before["hits"]
        np.testing.assert_array_equal(again, first)
        w, b = model.layers[0].get_weights()
        np.testing.assert_allclose(again, ref.gemm(x.astype(np.float64), w, bias=b), rtol=1e-4, atol=1e-4)
    finally:
        corenn._C.set_isa(prev)


def test_einsum_dense_keeps_its_kernel_packed_and_never_stale():
    """EinsumDense (MultiHeadAttention's projections) keeps its kernel packed between predicts
    when the equation needs no transpose of it, and computes with new values after a write."""
    corenn.utils.set_random_seed(3)
    inp = L.Input(shape=(6, 8))
    layer = L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 5), bias_axes="de")
    model = corenn.Model(inp, layer(inp))
    x = np.random.default_rng(2).standard_normal((4, 6, 8)).astype(np.float32)

    def want():
        w, b = (np.asarray(v, np.float64) for v in layer.get_weights())
        return np.einsum("abc,cde->abde", x.astype(np.float64), w) + b

    for _ in range(3):
        np.testing.assert_allclose(model.predict(x, verbose=0), want(), rtol=1e-5, atol=1e-5)
    assert kernels._packed_b_bytes(layer.kernel) > 0
    hits = _stats()["hits"]
    model.predict(x, verbose=0)
    assert _stats()["hits"] > hits
    w, b = layer.get_weights()
    layer.set_weights([w * -2.0, b])
    np.testing.assert_allclose(model.predict(x, verbose=0), want(), rtol=1e-5, atol=1e-5)
