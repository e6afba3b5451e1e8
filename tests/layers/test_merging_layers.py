"""Merge layers: forward and backward vs float64 NumPy, finite differences through each layer,
Keras shape rules (bad shapes raise naming the layer), get_config round trip, torch parity."""
import numpy as np
import pytest

from corenn import kernels, layers
from reference import numerical_grad

ELEMENTWISE = {
    "Add": lambda xs: sum(xs), "Multiply": lambda xs: np.prod(np.broadcast_arrays(*xs), axis=0),
    "Average": lambda xs: sum(xs) / len(xs), "Subtract": lambda xs: xs[0] - xs[1],
    "Maximum": lambda xs: np.maximum.reduce(np.broadcast_arrays(*xs)),
    "Minimum": lambda xs: np.minimum.reduce(np.broadcast_arrays(*xs)),
}
SHAPE_SETS = [[(4, 3), (4, 3)], [(2, 3, 4), (2, 3, 4), (2, 3, 4)], [(2, 3, 4), (2, 4)],
              [(2, 1, 4), (2, 3, 1)], [(3, 5), (3, 1), (3, 5)]]


def _keras_align(xs):
    """Keras' rule: lower-rank inputs get size-1 axes right after the batch axis."""
    rank = max(x.ndim for x in xs)
    return [x.reshape((x.shape[0],) + (1,) * (rank - x.ndim) + x.shape[1:]) for x in xs]


def _run(layer, xs, r):
    """y, and the analytic gradients of L = sum(y * r)."""
    layer.build([(None,) + x.shape[1:] for x in xs])
    y = layer.forward([kernels.as_tensor(x) for x in xs], training=True)
    y = np.asarray(y).copy()
    grads = layer.backward(kernels.as_tensor(np.ascontiguousarray(r, np.float32)))
    return y, [np.asarray(g).copy() for g in grads]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("shapes", SHAPE_SETS)
def test_elementwise_merge_forward_backward(name, shapes, rng):
    if name == "Subtract":
        shapes = shapes[:2]
    xs = [rng.normal(size=s).astype(np.float32) for s in shapes]
    f = lambda vs: ELEMENTWISE[name](_keras_align([np.asarray(v, np.float64) for v in vs]))
    want = f(xs)
    r = rng.normal(size=want.shape)
    y, grads = _run(getattr(layers, name)(), xs, r)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    assert len(grads) == len(xs)
    for i, (g, x) in enumerate(zip(grads, xs)):
        assert g.shape == x.shape
        num = numerical_grad(lambda v: float((f(xs[:i] + [v] + xs[i + 1:]) * r).sum()), x.astype(np.float64))
        np.testing.assert_allclose(g, num, rtol=1e-3, atol=1e-3)


def test_add_hands_dy_to_every_input_without_a_copy(rng):
    """d(sum)/dx_i = 1: Add's backward passes dy itself on (the graph executor and the tape sum
    gradients into buffers of their own and never write into one they received; a residual
    block's gradients are checked against finite differences in tests/models)."""
    xs = [rng.normal(size=(2, 3)).astype(np.float32) for _ in range(3)]
    layer = layers.Add()
    layer.forward([kernels.as_tensor(x) for x in xs])
    dy = kernels.as_tensor(np.ones((2, 3), np.float32))
    gs = layer.backward(dy)
    assert len(gs) == 3 and all(g is dy for g in gs)
    np.testing.assert_array_equal(np.asarray(dy), 1.0)   # and nobody wrote into it


def test_maximum_ties_go_to_the_first_input():
    a = np.array([[1.0, 2.0]], np.float32)
    _, (ga, gb) = _run(layers.Maximum(), [a, a.copy()], np.ones((1, 2)))
    np.testing.assert_array_equal(ga, [[1, 1]])
    np.testing.assert_array_equal(gb, [[0, 0]])


@pytest.mark.parametrize("shapes,axis", [([(2, 3), (2, 4)], -1), ([(2, 3, 4), (2, 1, 4), (2, 2, 4)], 1),
                                         ([(2, 3, 4), (2, 3, 1)], 2), ([(3, 2), (1, 2)], 0)])
def test_concatenate(shapes, axis, rng):
    xs = [rng.normal(size=s).astype(np.float32) for s in shapes]
    r = rng.normal(size=np.concatenate(xs, axis).shape)
    y, grads = _run(layers.Concatenate(axis=axis), xs, r)
    np.testing.assert_array_equal(y, np.concatenate(xs, axis))
    sizes = np.cumsum([s[axis] for s in shapes])[:-1]
    for g, want in zip(grads, np.split(r, sizes, axis=axis)):
        np.testing.assert_allclose(g, want, rtol=1e-6)


DOT_CASES = [((3, 4), (3, 4), 1), ((3, 4), (3, 4), -1), ((2, 3, 4), (2, 4, 5), (2, 1)),
             ((2, 3, 4), (2, 5, 4), 2), ((2, 4, 3), (2, 4, 5), 1), ((2, 4, 3), (2, 5, 4), (1, 2)),
             ((2, 4), (2, 4, 5), (1, 1)), ((2, 3, 4), (2, 4), (2, 1))]


def _dot_ref(x, y, axes, normalize):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    a1, a2 = (axes, axes) if isinstance(axes, int) else axes
    a1, a2 = a1 % x.ndim, a2 % y.ndim
    if normalize:
        x = x / np.sqrt(np.maximum((x * x).sum(a1, keepdims=True), 1e-12))
        y = y / np.sqrt(np.maximum((y * y).sum(a2, keepdims=True), 1e-12))
    out = np.stack([np.tensordot(x[b], y[b], axes=(a1 - 1, a2 - 1)) for b in range(x.shape[0])])
    return out.reshape(out.shape[0], -1) if out.ndim == 1 else out if out.ndim > 1 else out


@pytest.mark.parametrize("s1,s2,axes", DOT_CASES)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot(s1, s2, axes, normalize, rng):
    x, y = rng.normal(size=s1).astype(np.float32), rng.normal(size=s2).astype(np.float32)
    layer = layers.Dot(axes=axes, normalize=normalize)
    want = _dot_ref(x, y, axes, normalize)
    if want.ndim == 1:
        want = want[:, None]
    assert layer.compute_output_shape([(None,) + s1[1:], (None,) + s2[1:]]) == (None,) + want.shape[1:]
    r = rng.normal(size=want.shape)
    out, (gx, gy) = _run(layer, [x, y], r)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    f = lambda a, b: float((_dot_ref(a, b, axes, normalize).reshape(want.shape) * r).sum())
    np.testing.assert_allclose(gx, numerical_grad(lambda v: f(v, y), x), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(gy, numerical_grad(lambda v: f(x, v), y), rtol=1e-3, atol=1e-3)


def test_functional_helpers_match_the_layers(rng):
    a, b = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_allclose(layers.add([a, b]), a + b, rtol=1e-6)
    np.testing.assert_allclose(layers.subtract([a, b]), a - b, rtol=1e-6)
    np.testing.assert_allclose(layers.multiply([a, b]), a * b, rtol=1e-6)
    np.testing.assert_allclose(layers.average([a, b]), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(layers.maximum([a, b]), np.maximum(a, b))
    np.testing.assert_allclose(layers.minimum([a, b]), np.minimum(a, b))
    np.testing.assert_allclose(layers.concatenate([a, b], axis=0), np.concatenate([a, b]))
    np.testing.assert_allclose(layers.dot([a, b], axes=1), (a * b).sum(1, keepdims=True), rtol=1e-5)
    t = layers.add([kernels.as_tensor(a), kernels.as_tensor(b)])
    assert isinstance(t, kernels.Tensor)


def test_bad_shapes_raise_naming_the_layer():
    with pytest.raises(ValueError, match=r"Add 'bad_add'.*incompatible shapes \(None, 3\), \(None, 4\)"):
        layers.Add(name="bad_add").build([(None, 3), (None, 4)])
    with pytest.raises(ValueError, match=r"Subtract .*exactly 2 inputs, got 3"):
        layers.Subtract().build([(None, 3)] * 3)
    with pytest.raises(ValueError, match="Add .*list of inputs"):
        layers.Add().build((None, 3))
    with pytest.raises(ValueError, match="Multiply .*different batch sizes"):
        layers.Multiply().compute_output_shape([(2, 3), (4, 3)])
    with pytest.raises(ValueError, match=r"Concatenate .*match on every other axis.*\(None, 3, 4\), \(None, 2, 5\)"):
        layers.Concatenate(axis=1).build([(None, 3, 4), (None, 2, 5)])
    with pytest.raises(ValueError, match="Concatenate .*one rank"):
        layers.Concatenate().build([(None, 3, 4), (None, 3)])
    with pytest.raises(ValueError, match=r"Dot .*sizes 4 and 5"):
        layers.Dot(axes=1).build([(None, 4), (None, 5)])
    with pytest.raises(ValueError, match="Dot .*batch axis"):
        layers.Dot(axes=0).build([(None, 4), (None, 4)])
    with pytest.raises(ValueError, match="Add .*incompatible"):
        layers.add([np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)])
    with pytest.raises(TypeError, match="Dot .*axes"):
        layers.Dot(axes="1")


@pytest.mark.parametrize("layer", [layers.Add(), layers.Subtract(name="sub"), layers.Multiply(),
                                   layers.Average(), layers.Maximum(), layers.Minimum(),
                                   layers.Concatenate(axis=1), layers.Dot(axes=(2, 1), normalize=True)])
def test_get_config_round_trip(layer):
    cfg = layer.get_config()
    clone = layers.deserialize(layers.serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == cfg
    if isinstance(layer, layers.Concatenate):
        assert cfg["axis"] == 1
    if isinstance(layer, layers.Dot):
        assert cfg["axes"] == (2, 1) and cfg["normalize"] is True


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_torch_parity(name, rng):
    torch = pytest.importorskip("torch")
    xs = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(2)]
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    op = {"Add": torch.add, "Subtract": torch.sub, "Multiply": torch.mul,
          "Average": lambda a, b: (a + b) / 2, "Maximum": torch.maximum, "Minimum": torch.minimum}[name]
    ty = op(*ts)
    r = rng.normal(size=(3, 4))
    (ty * torch.tensor(r)).sum().backward()
    y, grads = _run(getattr(layers, name)(), xs, r)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-4, atol=1e-5)
