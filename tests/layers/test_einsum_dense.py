"""EinsumDense (Keras 3): the equations of Keras' docs and MultiHeadAttention against the float64
reference, finite-difference gradients, PyTorch parity, Keras' shape rules, errors, training,
saving (.keras and Keras' .weights.h5), GradientTape and ONNX export."""
import numpy as np
import pytest

import corenn
from corenn import kernels, layers
from layer_checks import check_against_reference, check_onnx_export, check_saving, close as _close
import reference as ref


# (equation, input shape with batch, output_shape, bias_axes, kernel shape, bias shape)
CASES = [
    ("ab,bc->ac", (3, 4), 5, "c", (4, 5), (5,)),
    ("abc,cd->abd", (2, 3, 4), (None, 5), "d", (4, 5), (5,)),
    ("abc,cde->abde", (2, 3, 4), (None, 2, 3), "de", (4, 2, 3), (2, 3)),   # MHA's projections
    ("abcd,cde->abe", (2, 3, 2, 3), (None, 4), "e", (2, 3, 4), (4,)),        # MHA's output
    ("...b,bc->...c", (2, 3, 4), 5, "c", (4, 5), (5,)),
    ("...b,bc->...c", (2, 2, 3, 4), 3, None, (4, 3), None),
    ("abc,dc->abd", (2, 3, 4), (None, 5), "d", (5, 4), (5,)),              # kernel transposed
    ("abc,cd->adb", (2, 3, 4), (5, None), "b", (4, 5), (3,)),              # output transposed
    ("abc,cd->abd", (2, 3, 4), (None, 5), "bd", (4, 5), (3, 5)),           # bias beyond N
    ("abc,bcd->abd", (2, 3, 4), (None, 5), "d", (3, 4, 5), (5,)),          # b in all three: batched
    ("ab...,bc->ac...", (2, 4, 3), (5,), "c", (4, 5), (5, 1)),             # right ellipsis
]


@pytest.mark.parametrize("equation,x_shape,out_shape,bias_axes,k_shape,b_shape", CASES)
def test_forward_and_gradients_against_the_reference(equation, x_shape, out_shape, bias_axes, k_shape,
                                                     b_shape, rng):
    layer = layers.EinsumDense(equation, out_shape, bias_axes=bias_axes, activation="tanh")
    layer.build((None,) + x_shape[1:])
    assert tuple(layer.kernel.shape) == k_shape
    assert (None if layer.bias is None else tuple(layer.bias.shape)) == b_shape
    x = rng.normal(size=x_shape).astype(np.float32)
    weights = [(rng.normal(size=k_shape) * 0.5).astype(np.float32)]
    weights += [] if b_shape is None else [rng.normal(size=b_shape).astype(np.float32)]
    f = lambda xx, ww, bb=None: np.tanh(ref.einsum_dense(xx, ww, bb, equation))
    # Keras 3.15's symbolic shape: None where output_shape says None (the input's size there is
    # what a call gives, not what the KerasTensor promises); the rest as computed
    got = layer.compute_output_shape((None,) + x_shape[1:])
    want = f(x, *weights).shape
    given = (out_shape,) if isinstance(out_shape, int) else tuple(out_shape)
    lead = len(x_shape) - len(equation.split(",")[0].replace("...", "")) if equation.startswith("...") else 1
    kept = list(want[1:])
    for j, d in enumerate(given):
        if d is None:
            kept[lead - 1 + j] = None
    assert got[1:] == tuple(kept)
    check_against_reference(layer, x, weights, f, rng)


def test_relu_and_linear_ride_in_the_gemm_and_match(rng):
    for act in ("relu", "linear"):
        layer = layers.EinsumDense("abc,cd->abd", (None, 6), bias_axes="d", activation=act)
        x = rng.normal(size=(3, 2, 4)).astype(np.float32)
        y = np.asarray(layer(x))
        w, b = layer.get_weights()
        want = ref.einsum_dense(x, w, b, "abc,cd->abd")
        _close(y, np.maximum(want, 0) if act == "relu" else want)


@pytest.mark.parametrize("equation,x_shape,out_shape,bias_axes", [
    ("abc,cde->abde", (2, 3, 4), (None, 2, 3), "de"), ("abc,dc->abd", (2, 3, 4), (None, 5), "d"),
    ("abc,bcd->abd", (2, 3, 4), (None, 5), "d"), ("abc,cd->adb", (2, 3, 4), (5, None), "b")])
def test_pytorch_parity(equation, x_shape, out_shape, bias_axes, rng):
    torch = pytest.importorskip("torch")
    layer = layers.EinsumDense(equation, out_shape, bias_axes=bias_axes, activation="sigmoid")
    x = rng.normal(size=x_shape).astype(np.float32)
    with corenn.GradientTape() as tape:
        xt = kernels.as_tensor(x)
        tape.watch(xt)
        y = layer(xt)
        loss = corenn.ops.sum(y * y)
    dx, dw, db = tape.gradient(loss, [xt, layer.kernel, layer.bias])
    w, b = layer.get_weights()
    tx, tw, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b))
    ty = torch.sigmoid(torch.einsum(equation, tx, tw) + tb)
    (ty * ty).sum().backward()
    _close(np.asarray(y), ty.detach().numpy())
    for got, want in ((dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        _close(np.asarray(got), want.numpy())


def test_keras_documented_shapes():
    x = corenn.Input((32,))
    assert layers.EinsumDense("ab,bc->ac", output_shape=64, bias_axes="c")(x).shape == (None, 64)
    seq = corenn.Input((32, 128))
    # Keras' docstring prints (None, 32, 64) here, but Keras 3.15's KerasTensor (torch and
    # TensorFlow backends alike) is (None, None, 64): output_shape's None stays unknown
    assert layers.EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")(seq).shape == (None, None, 64)
    assert layers.EinsumDense("abc,cd->abd", output_shape=(32, 64), bias_axes="d")(seq).shape == (None, 32, 64)
    assert layers.EinsumDense("...x,xy->...y", output_shape=64, bias_axes="y")(seq).shape == (None, 32, 64)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"EinsumDense 'e1': invalid einsum equation 'ab->b'"):
        layers.EinsumDense("ab->b", 3, name="e1")
    with pytest.raises(ValueError, match=r"'e2': output_shape \(3, 4\) needs 1 entries"):
        layers.EinsumDense("ab,bc->ac", (3, 4), name="e2")
    with pytest.raises(ValueError, match=r"'e3': bias dimension 'z' was requested.*'ac'"):
        layers.EinsumDense("ab,bc->ac", 3, bias_axes="z", name="e3")
    with pytest.raises(ValueError, match=r"'e4': the input spec 'aab' .* repeats a label"):
        layers.EinsumDense("aab,bc->ac", 3, name="e4")
    with pytest.raises(NotImplementedError, match=r"'e5': input label\(s\) 'b' .* summed"):
        layers.EinsumDense("abc,cd->ad", 3, name="e5").build((None, 2, 4))
    with pytest.raises(ValueError, match=r"'e6': equation 'abc,cd->abd' needs inputs of rank 3, got rank 2"):
        layers.EinsumDense("abc,cd->abd", (None, 3), name="e6").build((None, 4))
    with pytest.raises(ValueError, match=r"'e7': input shape and output shape do not match at shared "
                                         r"dimension 'b'"):
        layers.EinsumDense("abc,cd->abd", (7, 3), name="e7").build((None, 2, 4))
    with pytest.raises(ValueError, match=r"'e8': kernel label 'e'"):
        layers.EinsumDense("abc,cde->abd", (None, 3), name="e8").build((None, 2, 4))
    with pytest.raises(ValueError, match=r"'e9': lora_rank must be None or a positive number, got -4"):
        layers.EinsumDense("ab,bc->ac", 3, lora_rank=-4, name="e9")
    layer = layers.EinsumDense("ab,bc->ac", 3, name="e10")
    layer.build((None, 4))
    with pytest.raises(ValueError, match=r"'e10' \(EinsumDense\) expects input of shape \(None, 4\), got \(None, 5\)"):
        layer(np.zeros((2, 5), np.float32))


def _model():
    inp = corenn.Input((4, 6))
    # the sequence axis given (4): with None there the KerasTensor keeps it unknown, as Keras 3.15
    # does, and Flatten could not size the last layer's kernel (Keras cannot build that either)
    h = layers.EinsumDense("abc,cde->abde", (4, 2, 3), bias_axes="de", activation="relu")(inp)
    h = layers.EinsumDense("abcd,cde->abe", (4, 5), bias_axes="e")(h)
    out = layers.EinsumDense("...b,bc->...c", 1)(layers.Flatten()(h))
    return corenn.Model(inp, out)


def test_trains_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(64, 4, 6)).astype(np.float32)
    y = x[:, :, :2].sum(axis=(1, 2))[:, None].astype(np.float32)
    model = _model()
    model.compile("adam", "mse")
    first = model.fit(x, y, epochs=1, batch_size=16, verbose=0).history["loss"][0]
    last = model.fit(x, y, epochs=10, batch_size=16, verbose=0).history["loss"][-1]
    assert last < first
    cfg = model.layers[1].get_config()
    assert cfg["equation"] == "abc,cde->abde" and cfg["output_shape"] == (4, 2, 3) and cfg["bias_axes"] == "de"
    again = layers.EinsumDense.from_config(cfg)
    assert again.equation == "abc,cde->abde" and again.partial_output_shape == (4, 2, 3)
    check_saving(model, _model, x, tmp_path)


def test_sequential_model_under_gradient_tape(rng):
    model = corenn.Sequential([corenn.Input((3, 4)), layers.EinsumDense("abc,cd->abd", (None, 2), bias_axes="d")])
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(model(x) ** 2)
    dw, db = tape.gradient(loss, model.trainable_weights)
    w, b = model.get_weights()
    z = ref.einsum_dense(x, w, b, "abc,cd->abd")
    _close(np.asarray(dw), np.einsum("abc,abd->cd", x, 2 * z))
    _close(np.asarray(db), (2 * z).sum(axis=(0, 1)))


def test_onnx_export_matches_onnxruntime(tmp_path, rng):
    check_onnx_export(_model(), rng.normal(size=(3, 4, 6)).astype(np.float32), tmp_path, rng)
