"""corenn.kernels.gemm / matmul against the float64 NumPy reference (reference.gemm).

Every case runs under both micro-kernels (portable 'ref' and 'avx2' when the CPU has it) and with
1 and 2 threads; sizes straddle the 6 x 16 micro-tile and the blocking (K > KC = 256 exercises
the multi-step accumulation, beta and the last-step epilogue).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import corenn
from corenn import _C, kernels
from reference import gemm as ref_gemm

from conftest import ISAS



@pytest.fixture(params=[1, 2])
def threads(request):
    corenn.set_num_threads(request.param)
    yield request.param
    corenn.set_num_threads(0)


def operands(rng, m, n, k, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    return a, b


def assert_close(got, want, k):
    # float32 accumulation over k terms: error grows ~ sqrt(k) * eps * |terms|; compare relative
    # to the largest reference value so entries that cancel near zero don't dominate.
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale * max(1.0, np.sqrt(k / 16)))


SIZES = [1, 5, 6, 7, 15, 16, 17, 31, 64, 100, 257]
MNK = [(m, n, k) for m in SIZES for n in SIZES for k in (1, 7, 64, 257) if (m * n + k) % 3 == 0]


@pytest.mark.parametrize("m,n,k", MNK)
def test_gemm_sizes(isa, rng, m, n, k):
    a, b = operands(rng, m, n, k, False, False)
    np.testing.assert_equal(kernels.gemm(a, b).shape, (m, n))
    assert_close(kernels.gemm(a, b).numpy(), ref_gemm(a, b), k)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m,n,k", [(7, 17, 5), (64, 100, 300), (257, 31, 64), (130, 70, 520)])
def test_gemm_transposes(isa, threads, rng, trans_a, trans_b, m, n, k):
    a, b = operands(rng, m, n, k, trans_a, trans_b)
    c = kernels.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert_close(c.numpy(), ref_gemm(a, b, trans_a=trans_a, trans_b=trans_b), k)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 0.0), (1.0, 1.0), (-2.0, 0.25), (0.0, 3.0)])
@pytest.mark.parametrize("m,n,k", [(6, 16, 8), (37, 45, 300), (200, 150, 90), (40, 70, 1100)])
def test_gemm_alpha_beta_into_existing_c(isa, threads, rng, alpha, beta, m, n, k):
    a, b = operands(rng, m, n, k, False, False)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    c = c0.copy()
    out = kernels.gemm(a, b, c, alpha=alpha, beta=beta)
    assert np.shares_memory(out.numpy(), c)  # written in place, returned
    assert_close(c, ref_gemm(a, b, c0, alpha=alpha, beta=beta), k)


@pytest.mark.parametrize("m,n,k", [(5, 7, 3), (64, 64, 64), (100, 33, 600)])
def test_gemm_beta_zero_never_reads_c(isa, threads, rng, m, n, k):
    a, b = operands(rng, m, n, k, True, False)
    c = np.full((m, n), np.nan, np.float32)
    kernels.gemm(a, b, c, trans_a=True, beta=0.0)
    assert np.isfinite(c).all()
    assert_close(c, ref_gemm(a, b, trans_a=True), k)


@pytest.mark.parametrize("activation", ["none", "relu"])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m,n,k", [(1, 10, 784), (64, 10, 784), (13, 40, 20), (128, 256, 512)])
def test_gemm_bias_activation_epilogue(isa, threads, rng, activation, trans_b, m, n, k):
    a, b = operands(rng, m, n, k, False, trans_b)
    bias = rng.standard_normal(n).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    c = c0.copy()
    kernels.gemm(a, b, c, trans_b=trans_b, alpha=0.7, beta=0.5, bias=bias, activation=activation)
    want = ref_gemm(a, b, c0, trans_b=trans_b, alpha=0.7, beta=0.5, bias=bias,
                    activation=activation)
    assert_close(c, want, k)
    if activation == "relu":
        assert (c >= 0).all() and (c == 0).any()


@pytest.mark.parametrize("m,n,k", [(64, 512, 784), (128, 10, 256), (784, 512, 128), (3, 300, 50)])
def test_gemm_dense_layer_shapes(isa, threads, rng, m, n, k):
    # forward y = x W + b (relu), dW = x^T dy, dx = dy W^T: the three GEMMs of a Dense layer.
    x, w = operands(rng, m, n, k, False, False)
    bias = rng.standard_normal(n).astype(np.float32)
    assert_close(kernels.gemm(x, w, bias=bias, activation="relu").numpy(),
                 ref_gemm(x, w, bias=bias, activation="relu"), k)
    dy = rng.standard_normal((m, n)).astype(np.float32)
    assert_close(kernels.gemm(x, dy, trans_a=True).numpy(), ref_gemm(x, dy, trans_a=True), m)
    assert_close(kernels.gemm(dy, w, trans_b=True).numpy(), ref_gemm(dy, w, trans_b=True), n)


def test_gemm_isas_agree_and_threads_agree(rng):
    a, b = operands(rng, 150, 90, 700, False, True)
    results = []
    for isa in ISAS:
        for t in (1, 2):
            _C.set_isa(isa)
            corenn.set_num_threads(t)
            results.append(kernels.gemm(a, b, trans_b=True).numpy().copy())
    _C.set_isa("auto")
    corenn.set_num_threads(0)
    for r in results[1:]:
        assert_close(r, results[0], 700)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 80), n=st.integers(1, 80), k=st.integers(1, 300),
       trans_a=st.booleans(), trans_b=st.booleans(), beta=st.sampled_from([0.0, 1.0, -0.5]),
       seed=st.integers(0, 2**31), isa=st.sampled_from(ISAS), nthreads=st.sampled_from([1, 2]))
def test_gemm_random_sizes(m, n, k, trans_a, trans_b, beta, seed, isa, nthreads):
    rng = np.random.default_rng(seed)
    a, b = operands(rng, m, n, k, trans_a, trans_b)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    c = c0.copy()
    _C.set_isa(isa)
    corenn.set_num_threads(nthreads)
    try:
        kernels.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b, beta=beta)
    finally:
        _C.set_isa("auto")
        corenn.set_num_threads(0)
    assert_close(c, ref_gemm(a, b, c0, trans_a=trans_a, trans_b=trans_b, beta=beta), k)


def test_gemm_concurrent_python_threads(rng):
    # The GIL is released and packing buffers are per calling thread: concurrent calls must not
    # share them.
    from concurrent.futures import ThreadPoolExecutor
    problems = [operands(rng, 70 + i, 90 + 3 * i, 600, i % 2 == 1, i % 3 == 1) for i in range(6)]

    def work(i):
        a, b = problems[i]
        return kernels.gemm(a, b, trans_a=i % 2 == 1, trans_b=i % 3 == 1).numpy()

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(work, range(6)))
    for i, (a, b) in enumerate(problems):
        assert_close(results[i], ref_gemm(a, b, trans_a=i % 2 == 1, trans_b=i % 3 == 1), 600)


def test_gemm_accepts_tensors_and_returns_c(rng):
    a, b = operands(rng, 8, 9, 10, False, False)
    c = kernels.empty([8, 9])
    out = kernels.gemm(kernels.as_tensor(a), kernels.as_tensor(b), c)
    assert out.data_ptr == c.data_ptr
    assert_close(c.numpy(), ref_gemm(a, b), 10)


def test_matmul_numpy_in_numpy_out(rng):
    a, b = operands(rng, 33, 21, 70, False, False)
    c = kernels.matmul(a, b)
    assert isinstance(c, np.ndarray) and c.dtype == np.float32 and c.shape == (33, 21)
    assert_close(c, a.astype(np.float64) @ b, 70)
    t = kernels.matmul(kernels.as_tensor(a), b)
    assert isinstance(t, kernels.Tensor)
    assert_close(t.numpy(), c, 70)


# ---- bad inputs ------------------------------------------------------------------------------

def f32(*shape):
    return np.ones(shape, np.float32)


def test_gemm_inner_dims_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"gemm: a has shape \(64, 100\).*b has shape \(784, 10\).*"
                                         r"inner dimensions differ \(100 vs 784\)"):
        kernels.gemm(f32(64, 100), f32(784, 10))
    with pytest.raises(ValueError, match=r"gemm:.*transposed.*inner dimensions differ \(3 vs 4\)"):
        kernels.gemm(f32(3, 5), f32(4, 6), trans_a=True)


@pytest.mark.parametrize("a,b,c,kwargs,match", [
    (f32(2, 3, 1), f32(3, 4), f32(2, 4), {}, r"gemm: a must be 2-D"),
    (f32(2, 3), f32(3), f32(2, 4), {}, r"gemm: b must be 2-D"),
    (f32(2, 3), f32(3, 4), f32(8), {}, r"gemm: c must be 2-D"),
    (f32(2, 3), f32(3, 4), f32(4, 2), {}, r"gemm: c must have shape \(2, 4\).*got \(4, 2\)"),
    (f32(2, 3), f32(3, 4), f32(2, 4), {"bias": f32(2)}, r"gemm: bias must have shape \(4,\), got \(2,\)"),
    (f32(0, 3), f32(3, 4), f32(0, 4), {}, r"gemm: a is empty"),
    (f32(2, 3), f32(3, 0), f32(2, 0), {}, r"gemm: b is empty"),
    (f32(2, 3), f32(3, 4), f32(2, 4), {"activation": "tanh"}, r"gemm: unknown activation 'tanh'"),
])
def test_gemm_bad_shapes_raise_value_error(a, b, c, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kernels.gemm(a, b, c, **kwargs)


def test_gemm_bad_dtype_raises_type_error():
    with pytest.raises(TypeError, match=r"gemm: a must be float32, got int32"):
        kernels.gemm(np.ones((2, 3), np.int32), f32(3, 4))
    with pytest.raises(TypeError, match=r"gemm: c must be float32"):
        kernels.gemm(f32(2, 3), f32(3, 4), np.zeros((2, 4), np.int64))
    with pytest.raises(TypeError, match=r"gemm: bias must be float32"):
        kernels.gemm(f32(2, 3), f32(3, 4), bias=np.zeros(4, np.int32))


def test_gemm_output_aliasing_an_input_raises():
    a = f32(4, 4)
    with pytest.raises(ValueError, match=r"gemm: c and a share memory"):
        kernels.gemm(a, f32(4, 4), a)
    t = kernels.as_tensor(f32(4, 4))
    with pytest.raises(ValueError, match=r"gemm: c and b share memory"):
        kernels.gemm(f32(4, 4), t, t.reshape([4, 4]))


def test_gemm_beta_without_c_raises():
    with pytest.raises(ValueError, match=r"gemm: beta != 0"):
        kernels.gemm(f32(2, 3), f32(3, 4), beta=1.0)
