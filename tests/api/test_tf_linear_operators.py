"""tf.linalg.LinearOperator family: each operator's dense matrix against its NumPy definition,
the generic methods (matvec, solve, determinant, inverse, composition) against NumPy, and
gradients reaching an operator's parameters."""
import numpy as np
import pytest

import corenn as tf

L = tf.linalg


def test_dense_matrices():
    np.testing.assert_allclose(np.asarray(L.LinearOperatorDiag([1.0, 2, 3]).to_dense()), np.diag([1.0, 2, 3]))
    np.testing.assert_allclose(np.asarray(L.LinearOperatorScaledIdentity(2, 3.0).to_dense()), 3 * np.eye(2))
    col, row = np.array([1.0, 2, 3]), np.array([1.0, 5, 6])
    want = np.array([[col[max(i - j, 0)] if i >= j else row[j - i] for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(np.asarray(L.LinearOperatorToeplitz(col, row).to_dense()), want)
    p = L.LinearOperatorPermutation([2, 0, 1])
    np.testing.assert_allclose(np.asarray(p.matvec([10.0, 20, 30])), [30, 10, 20])
    v = np.array([1.0, 1.0])
    np.testing.assert_allclose(np.asarray(L.LinearOperatorHouseholder(v).to_dense()),
                               np.eye(2) - 2 * np.outer(v, v) / v.dot(v), atol=1e-7)
    spec = np.array([6.0, -2, -2])
    c = np.real(np.fft.ifft(spec))
    np.testing.assert_allclose(np.asarray(L.LinearOperatorCirculant(spec).to_dense()),
                               [[c[(i - j) % 3] for j in range(3)] for i in range(3)], atol=1e-6)
    swap = np.array([[0.0, 1], [1, 0]])
    np.testing.assert_allclose(np.asarray(L.LinearOperatorKronecker([L.LinearOperatorDiag([1.0, 2]),
                                                                      L.LinearOperatorFullMatrix(swap)]).to_dense()),
                               np.kron(np.diag([1.0, 2]), swap))
    bd = L.LinearOperatorBlockDiag([L.LinearOperatorDiag([1.0, 2]), L.LinearOperatorFullMatrix([[5.0]])])
    np.testing.assert_allclose(np.asarray(bd.to_dense()), np.diag([1.0, 2, 5]))
    lr = L.LinearOperatorLowRankUpdate(L.LinearOperatorDiag([1.0, 1]), [[1.0], [2.0]], diag_update=[3.0])
    np.testing.assert_allclose(np.asarray(lr.to_dense()), np.eye(2) + 3 * np.outer([1, 2], [1, 2]))
    blt = L.LinearOperatorBlockLowerTriangular([[L.LinearOperatorDiag([1.0])],
                                                [L.LinearOperatorFullMatrix([[2.0]]), L.LinearOperatorDiag([3.0])]])
    np.testing.assert_allclose(np.asarray(blt.to_dense()), [[1, 0], [2, 3]])
    np.testing.assert_allclose(np.asarray(L.LinearOperatorTridiag([[1.0, 2, 0], [4, 5, 6], [0, 8, 9]]).to_dense()),
                               [[4, 1, 0], [8, 5, 2], [0, 9, 6]])
    assert tuple(L.LinearOperatorIdentity(3, batch_shape=[2]).shape) == (2, 3, 3)
    assert tuple(L.LinearOperatorZeros(2, 3, is_square=False).to_dense().shape) == (2, 3)
    with pytest.raises(ValueError, match="is_square"):
        L.LinearOperatorZeros(2, 3)


def test_generic_methods():
    a = np.array([[4.0, 1, 0], [1, 3, 1], [0, 1, 2]])
    op = L.LinearOperatorFullMatrix(a, is_self_adjoint=True)
    x = np.array([1.0, 2, 3])
    np.testing.assert_allclose(np.asarray(op.matvec(x)), a @ x, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(op.solvevec(x)), np.linalg.solve(a, x), rtol=1e-5)
    np.testing.assert_allclose(float(np.asarray(op.determinant())), np.linalg.det(a), rtol=1e-5)
    np.testing.assert_allclose(float(np.asarray(op.log_abs_determinant())), np.log(abs(np.linalg.det(a))), rtol=1e-5)
    np.testing.assert_allclose(float(np.asarray(op.trace())), np.trace(a), rtol=1e-6)
    np.testing.assert_allclose(np.asarray((op @ op).to_dense()), a @ a, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(op.inverse().to_dense()), np.linalg.inv(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(op.cholesky().to_dense()), np.linalg.cholesky(a), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(L.LinearOperatorLowerTriangular(a).to_dense()), np.tril(a))
    np.testing.assert_allclose(np.asarray(op.matmul(np.eye(3), adjoint=True)), a.T, rtol=1e-6)
    with pytest.raises(ValueError, match="not square"):
        L.LinearOperatorFullMatrix(np.ones((2, 3))).determinant()


def test_gradients_reach_the_parameters():
    d = tf.Variable(np.array([1.0, 2.0, 4.0], np.float32))
    x = np.array([1.0, 1.0, 2.0], np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(L.LinearOperatorDiag(d).solvevec(x))     # sum x_i / d_i
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, d)), -x / np.array([1.0, 4, 16]), rtol=1e-5)
    col = tf.Variable(np.array([2.0, 1.0, 0.5], np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(L.LinearOperatorToeplitz(col, col).to_dense())
    # col[0]: the 3 diagonal cells; col[k] as column and as row (row[0] unused): 2 (n - k) cells
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, col)), [3, 4, 2])
