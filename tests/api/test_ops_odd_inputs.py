"""keras.ops on the odd inputs a fuzz run (every keras.ops name x 0-d / empty / rank 1-6 / other
dtypes / strided / read-only / NaN-inf / huge broadcast / bad axis / None / lists) found wrong:
each case against a float64 NumPy reference written from Keras 3's definition, or the error
the op must raise (a ValueError or TypeError naming the op, never an IndexError from its inner
workings or a ZeroDivisionError)."""
import numpy as np
import pytest

import corenn
from corenn import ops


def _np(t):
    return np.asarray(t, dtype=np.float64)


# -- crossentropy ops: Keras 3 scales probabilities to sum 1 along the axis before clipping -----

def _cce_ref(target, output, axis=-1):
    p = np.asarray(output, np.float64)
    p = np.clip(p / p.sum(axis=axis, keepdims=True), 1e-7, 1 - 1e-7)
    return -(np.asarray(target, np.float64) * np.log(p)).sum(axis=axis)


P = np.array([[0.2, 0.5, 0.9], [1.0, 2.0, 3.0]], np.float32)   # rows do not sum to 1
Y = np.array([[0, 1, 0], [1, 0, 0]], np.float32)


def test_categorical_crossentropy_normalizes_probabilities():
    # was -log(clip(p)): 0.693 and 0.0 here instead of 1.163 and 1.792
    np.testing.assert_allclose(_np(ops.categorical_crossentropy(Y, P)), _cce_ref(Y, P), rtol=1e-5)
    np.testing.assert_allclose(_np(ops.categorical_crossentropy(Y, P - 1.0)), _cce_ref(Y, P - 1.0), rtol=1e-5)
    # and agrees with the loss function, which did it already
    np.testing.assert_allclose(_np(ops.categorical_crossentropy(Y, P)),
                               _np(corenn.losses.categorical_crossentropy(Y, P)), rtol=1e-5)


def test_categorical_crossentropy_honours_axis():
    # axis was ignored: the classes were always the last axis
    got = _np(ops.categorical_crossentropy(Y, P, axis=0))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, _cce_ref(Y, P, axis=0), rtol=1e-5, atol=1e-7)
    z = P.astype(np.float64)
    logp = z - z.max(0) - np.log(np.exp(z - z.max(0)).sum(0))
    np.testing.assert_allclose(_np(ops.categorical_crossentropy(Y, P, from_logits=True, axis=0)),
                               -(Y * logp).sum(0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("axis, err", [(-7, ValueError), (2, ValueError), (1.5, TypeError), (None, ValueError)])
def test_categorical_crossentropy_bad_axis_named(axis, err):
    with pytest.raises(err, match="categorical_crossentropy"):
        ops.categorical_crossentropy(Y, P, axis=axis)


def test_categorical_crossentropy_shape_mismatch_named():
    with pytest.raises(ValueError, match=r"categorical_crossentropy.*\(2, 2\).*\(2, 3\)"):
        ops.categorical_crossentropy(Y[:, :2], P)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        ops.categorical_crossentropy(np.float32(1.0), np.float32(2.0))


def test_sparse_categorical_crossentropy_normalizes_and_takes_column_targets():
    labels = np.array([1, 0])
    ref = _cce_ref(np.eye(3)[labels], P)
    np.testing.assert_allclose(_np(ops.sparse_categorical_crossentropy(labels, P)), ref, rtol=1e-5)
    np.testing.assert_allclose(_np(ops.sparse_categorical_crossentropy(labels[:, None], P)), ref, rtol=1e-5)
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*\(3,\)"):
        ops.sparse_categorical_crossentropy(np.array([1, 0, 1]), P)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        ops.sparse_categorical_crossentropy(labels, P, axis=0)


# -- softmax / log_softmax axes --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis, err", [(5, ValueError), (-3, ValueError), (2**40, ValueError), (1.5, TypeError),
                                       ((0, 0), ValueError), ((0, 7), ValueError)])
def test_softmax_bad_axis_named(name, axis, err):
    # an out-of-range axis was an IndexError "list index out of range" naming no op
    with pytest.raises(err, match=name):
        getattr(ops, name)(P, axis=axis)


def test_softmax_axis_none_is_every_axis():
    z = P.astype(np.float64)
    e = np.exp(z - z.max())
    np.testing.assert_allclose(_np(ops.softmax(P, axis=None)), e / e.sum(), rtol=1e-5)
    np.testing.assert_allclose(_np(ops.log_softmax(P, axis=None)), np.log(e / e.sum()), rtol=1e-5, atol=1e-6)
    assert _np(ops.softmax(np.float32(3.0))) == pytest.approx(1.0)


# -- shape / ndim / size / *_like on numbers and lists ---------------------------------------------

def test_shape_ndim_size_of_lists_and_numbers():
    # these read x.shape and raised AttributeError on a list or a number
    assert ops.shape([[1, 2, 3], [4, 5, 6]]) == (2, 3)
    assert ops.ndim([[1, 2]]) == 2 and ops.ndim(2.0) == 0
    assert ops.size([[1, 2, 3], [4, 5, 6]]) == 6 and ops.size(7) == 1
    with pytest.raises(TypeError, match="ops.shape"):
        ops.ndim(None)


def test_zeros_like_ones_like_keep_integer_dtypes():
    # the result was float32 whatever x held (Keras 3 keeps x's dtype)
    for dt in ("int32", "int64"):
        z = ops.zeros_like(np.array([[1, 2]], dt))
        o = ops.ones_like(np.array([[1, 2]], dt))
        assert z.dtype == dt and o.dtype == dt
        np.testing.assert_array_equal(np.asarray(o), np.ones((1, 2)))
    assert ops.zeros_like(np.zeros(2, np.float32)).dtype == "float32"
    assert ops.ones_like(np.array([1, 2], "int32"), dtype="float32").dtype == "float32"
    s = ops.zeros_like(2.0)
    assert tuple(s.shape) == () and float(np.asarray(s)) == 0.0
    assert tuple(ops.ones_like([[1.0, 2.0]]).shape) == (1, 2)


# -- adaptive pooling --------------------------------------------------------------------------------

def _aap_ref(x, out):
    """channels_last 2-D adaptive average pool, bin by bin (floor/ceil bins as Keras 3)."""
    n, h, w, c = x.shape
    oh, ow = out
    y = np.empty((n, oh, ow, c))
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            y[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return y


def test_adaptive_average_pool_keeps_nan_and_inf_in_their_bins():
    # the weight-matrix product spread one NaN over every bin of its row and column (0 * NaN)
    x = (np.arange(2 * 5 * 7 * 3, dtype=np.float32).reshape(2, 5, 7, 3) % 11) / 4
    x[0, 1, 2, 0] = np.nan
    x[1, 4, 6, 2] = np.inf
    got = _np(ops.adaptive_average_pool(x, (3, 4), data_format="channels_last"))
    ref = _aap_ref(x.astype(np.float64), (3, 4))
    assert np.isnan(ref).sum() == 2   # row 1 lies in two overlapping bins (5 rows -> 3); 12 before the fix
    np.testing.assert_allclose(got, ref, rtol=1e-5)   # NaN and inf exactly where the reference has them
    first = _np(ops.adaptive_average_pool(np.moveaxis(x, -1, 1), (3, 4), data_format="channels_first"))
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), ref, rtol=1e-5)
    one = _np(ops.adaptive_average_pool(np.array([[[np.nan], [1], [2], [3]]], np.float32), 2,
                                        data_format="channels_last"))
    np.testing.assert_allclose(one.ravel(), [np.nan, 2.5])


def test_adaptive_average_pool_gradient():
    x = np.random.default_rng(0).standard_normal((1, 5, 3, 2)).astype(np.float32)
    v = corenn.Variable(x)
    w = np.random.default_rng(1).standard_normal((1, 2, 2, 2))
    with corenn.GradientTape() as tape:
        loss = ops.sum(ops.multiply(ops.adaptive_average_pool(v, (2, 2), data_format="channels_last"),
                                    w.astype(np.float32)))
    g = _np(tape.gradient(loss, v))
    # d loss / d x[h, w] = sum over the bins containing (h, w) of w_bin / bin size
    ref = np.zeros(x.shape)
    for i, (h0, h1) in enumerate([(0, 3), (2, 5)]):
        for j, (w0, w1) in enumerate([(0, 2), (1, 3)]):
            ref[:, h0:h1, w0:w1] += w[:, i, j][:, None, None, :] / ((h1 - h0) * (w1 - w0))
    np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["adaptive_average_pool", "adaptive_max_pool"])
@pytest.mark.parametrize("shape", [(2, 0, 4), (1, 3, 0, 2)])
def test_adaptive_pool_empty_spatial_axis_named(name, shape):
    # was ZeroDivisionError (average) from a bin of width 0
    with pytest.raises(ValueError, match=name):
        getattr(ops, name)(np.zeros(shape, np.float32), 2)


# -- corrcoef ------------------------------------------------------------------------------------------

def test_corrcoef_of_one_variable_is_a_scalar():
    r = ops.corrcoef(np.arange(5, dtype=np.float32))
    assert tuple(r.shape) == np.corrcoef(np.arange(5.0)).shape == ()
    assert float(np.asarray(r)) == pytest.approx(1.0)
    x = np.array([[1, 2, 3], [3, 1, 0.5]], np.float32)
    np.testing.assert_allclose(_np(ops.corrcoef(x)), np.corrcoef(x.astype(np.float64)), rtol=1e-5)


# -- scalars where an op needs an axis, and empty inputs -------------------------------------------

@pytest.mark.parametrize("call", [lambda: ops.rfft(np.float32(1.0)), lambda: ops.extract_sequences(np.float32(1.0), 2, 1),
                                  lambda: ops.solve(np.eye(3, dtype=np.float32), np.float32(1.0)),
                                  lambda: ops.solve_triangular(np.eye(3, dtype=np.float32), 1.0),
                                  lambda: ops.rfft(np.ones(4, np.float32), fft_length=0)])
def test_scalar_where_an_axis_is_needed_is_named(call):
    # each was an IndexError "tuple index out of range" from inside the op
    with pytest.raises(ValueError, match=r"ops\.(rfft|extract_sequences|solve|solve_triangular): "):
        call()


def test_sparsemax_of_empty_input_is_empty():
    # was an IndexError (the support count indexed position -1 of an empty axis)
    for shape in [(3, 0), (0, 4)]:
        y = ops.sparsemax(np.zeros(shape, np.float32))
        assert tuple(y.shape) == shape and y.dtype == "float32"
    x = np.array([[0.1, 1.2, -0.3]], np.float32)
    np.testing.assert_allclose(np.asarray(ops.sparsemax(x)), [[0.0, 1.0, 0.0]], atol=1e-6)


def test_numpy_errors_inside_ops_name_the_op():
    # ops computing with NumPy passed its messages on bare ("axis 5 is out of bounds ...")
    with pytest.raises(ValueError, match=r"^ops\.argmax: .*axis 5"):
        ops.argmax(np.ones((2, 3), np.float32), axis=5)
    # a NumPy message opening with a word and a colon is not an op's name
    with pytest.raises(ValueError, match=r"^ops\.linspace: destination: axis -7"):
        ops.linspace(0.0, 1.0, 5, axis=-7)
    with pytest.raises(TypeError, match=r"^ops\.greater: "):
        ops.greater("a", np.ones(2, np.float32))
    with pytest.raises(TypeError, match=r"^ops\.reshape: "):   # was AttributeError
        ops.reshape("abc", (1,))
    # a function of the caller's keeps its own exception (map is not wrapped)
    def f(v):
        raise KeyError("mine")
    with pytest.raises(KeyError, match="mine"):
        ops.map(f, np.ones((2, 2), np.float32))


# -- quantile / median of data holding NaN -----------------------------------------------------------

def test_median_and_quantile_of_a_slice_with_nan_is_nan():
    # the sort put NaN last and the pick skipped it: median([1, nan, 3, 4]) was 3.5 (NumPy: nan)
    x = np.array([[1, np.nan, 3, 4], [4, 5, 6, 7]], np.float32)
    for axis in (None, 1, 0):
        np.testing.assert_array_equal(np.isnan(np.asarray(ops.median(x, axis=axis))),
                                      np.isnan(np.median(x.astype(np.float64), axis=axis)))
        np.testing.assert_allclose(np.asarray(ops.quantile(x, [0.25, 0.9], axis=axis, keepdims=True)),
                                   np.quantile(x.astype(np.float64), [0.25, 0.9], axis=axis, keepdims=True),
                                   rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ops.percentile(x, 50, axis=1)), [np.nan, 5.5])
    # nanmedian still ignores them
    np.testing.assert_allclose(np.asarray(ops.nanmedian(x, axis=1)), [3.0, 5.5])


def test_quantiles_of_a_2d_q_lead_the_result_shape():
    # the picks were stacked flat: q of shape (2, 2) gave (4, ...) where NumPy and Keras give (2, 2, ...)
    x = np.random.RandomState(3).uniform(-2, 2, (5, 3)).astype(np.float32)
    q = np.array([[0.1, 0.5], [0.9, 1.0]])
    for op, ref in ((ops.quantile, np.quantile), (ops.nanquantile, np.nanquantile)):
        for axis in (None, 0, 1):
            got, want = np.asarray(op(x, q, axis=axis)), ref(x.astype(np.float64), q, axis=axis)
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-6)
        assert np.asarray(op(x, q, axis=1, keepdims=True)).shape == (2, 2, 5, 1)
    assert np.asarray(ops.percentile(x, q * 100)).shape == (2, 2)


def test_view_of_a_scalar_stays_a_scalar():
    # np.ascontiguousarray turned the 0-d input into shape (1,)
    x = np.array(1.5, np.float32)
    v = ops.view(x, "int32")
    assert tuple(v.shape) == () and int(np.asarray(v)) == int(x.view(np.int32))
    assert tuple(ops.view(x).shape) == ()
    with pytest.raises(ValueError, match="ops.view: a scalar"):
        ops.view(np.array(1, np.int64), "int32")


# -- None where data is expected ---------------------------------------------------------------------

X34 = np.ones((3, 4), np.float32)


@pytest.mark.parametrize("name, call", [
    ("equal", lambda: ops.equal(X34, None)), ("not_equal", lambda: ops.not_equal(None, X34)),
    ("less", lambda: ops.less(X34, np.array([[None] * 4] * 3))), ("logical_and", lambda: ops.logical_and(X34, None)),
    ("logical_not", lambda: ops.logical_not(None)), ("argmax", lambda: ops.argmax(None)),
    ("argmin", lambda: ops.argmin(None)), ("cast", lambda: ops.cast(None, "float32")),
    ("full", lambda: ops.full((2,), None)), ("full_like", lambda: ops.full_like(X34, None))])
def test_none_as_data_is_refused(name, call):
    # each answered from no data: equal(x, None) all False, logical_and(x, None) NaN, full NaN,
    # cast(None) NaN, argmax(None) 0
    with pytest.raises(TypeError, match=rf"^ops\.{name}: expected a tensor, array or number, got None"):
        call()


def test_comparisons_of_object_strings_still_work():
    a = np.array(["a", "b"], dtype=object)
    np.testing.assert_array_equal(np.asarray(ops.equal(a, "a")), [1.0, 0.0])


def test_expand_dims_float_axis_refused():
    with pytest.raises(TypeError, match="ops.expand_dims: axis"):   # int(1.5) was taken as 1
        ops.expand_dims(X34, 1.5)
    assert tuple(ops.expand_dims(X34, np.int64(1)).shape) == (3, 1, 4)


def test_an_inner_ops_error_names_the_called_op_first():
    # nanmedian of an empty axis failed inside take_along_axis, whose name alone was reported
    with pytest.raises(IndexError, match=r"^ops\.nanmedian: ops\.take_along_axis: "):
        ops.nanmedian(np.zeros((0, 3), np.float32))
    with pytest.raises(TypeError, match=r"^ops\.expand_dims: ops\.reshape: "):
        ops.expand_dims("abc", 0)


def test_generic_ops_prefix_not_doubled():
    with pytest.raises(TypeError, match=r"^ops\.add: expected numeric data"):
        ops.add(X34, None)


# -- integer data keeps Keras' integer dtype (Keras 3.15, TF and torch backends agree) ---------------

def test_nan_reductions_kron_and_products_of_ints_stay_int32():
    a = np.array([[1, 0, 2], [0, 3, 1]], np.int32)
    i = ops.convert_to_tensor(a)
    for got, want in ((ops.nansum(i), np.sum(a)), (ops.nansum(i, axis=0), np.sum(a, axis=0)),
                      (ops.nanprod(i, axis=1), np.prod(a, axis=1)), (ops.nancumsum(i, axis=1), np.cumsum(a, axis=1)),
                      (ops.nancumprod(i), np.cumprod(a)), (ops.kron(i, i), np.kron(a, a)), (ops.kron(i, 2), a * 2),
                      (ops.inner(i, 2), a * 2), (ops.outer(i, 2), np.outer(a, 2)), (ops.append(i, 2), np.append(a, 2)),
                      (ops.outer(i[0], i[1]), np.outer(a[0], a[1])), (ops.vdot(i, i), np.vdot(a, a))):
        assert got.dtype == "int32", got.dtype
        np.testing.assert_array_equal(np.asarray(got), want)
    # int64 data stays int64; floats stay float32 (NaN still skipped)
    assert ops.kron(ops.convert_to_tensor(a.astype(np.int64)), i).dtype == "int64"
    x = np.array([1.0, np.nan, 2.0], np.float32)
    assert ops.nansum(x).dtype == "float32" and float(ops.nansum(x)) == 3.0
