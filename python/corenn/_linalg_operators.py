"""``tf.linalg.LinearOperator`` and its family. Each operator knows its dense matrix (built with
recorded ops, so gradients reach the parameters: a diagonal, a Toeplitz column, ...); the
methods (matmul, matvec, solve, determinant, inverse, adjoint, ...) are the dense computations
on it. TensorFlow exploits each structure for speed; corenn computes the same values densely
(fine for the small and moderate sizes scripts use)."""
from __future__ import annotations

import numpy as np

from . import ops

__all__ = ["LinearOperator", "LinearOperatorFullMatrix", "LinearOperatorDiag", "LinearOperatorIdentity",
           "LinearOperatorScaledIdentity", "LinearOperatorLowerTriangular", "LinearOperatorComposition",
           "LinearOperatorInversion", "LinearOperatorAdjoint", "LinearOperatorKronecker", "LinearOperatorBlockDiag",
           "LinearOperatorBlockLowerTriangular", "LinearOperatorLowRankUpdate", "LinearOperatorHouseholder",
           "LinearOperatorPermutation", "LinearOperatorToeplitz", "LinearOperatorCirculant",
           "LinearOperatorCirculant2D", "LinearOperatorCirculant3D", "LinearOperatorTridiag", "LinearOperatorZeros"]


def _t(x):
    t = ops._to_tensor(x)
    return t if t.dtype == "float32" else ops.cast(t, "float32")


def _adj(m):
    return ops.swapaxes(m, -1, -2)


class LinearOperator:
    """The base class: subclasses give ``_dense()``; everything else follows from it."""

    def __init__(self, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None, is_square=None,
                 name=None, **kwargs):
        self.is_non_singular, self.is_self_adjoint = is_non_singular, is_self_adjoint
        self.is_positive_definite, self._is_square_hint = is_positive_definite, is_square
        self.name = name or type(self).__name__

    def _dense(self):
        raise NotImplementedError

    def to_dense(self, name=None):
        return self._dense()

    @property
    def shape(self):
        from .kernels import TensorShape
        return TensorShape(tuple(int(d) for d in self._dense().shape))

    @property
    def batch_shape(self):
        from .kernels import TensorShape
        return TensorShape(tuple(self.shape)[:-2])

    @property
    def domain_dimension(self):
        return int(tuple(self.shape)[-1])

    @property
    def range_dimension(self):
        return int(tuple(self.shape)[-2])

    @property
    def dtype(self):
        return "float32"

    @property
    def is_square(self):
        return self.domain_dimension == self.range_dimension

    def shape_tensor(self, name=None):
        from ._tf_api import constant
        return constant(np.array(tuple(self.shape), np.int32))

    def matmul(self, x, adjoint=False, adjoint_arg=False, name=None):
        if isinstance(x, LinearOperator):
            return LinearOperatorComposition([self.adjoint() if adjoint else self, x.adjoint() if adjoint_arg else x])
        a = self._dense()
        b = _t(x)
        return ops.matmul(_adj(a) if adjoint else a, _adj(b) if adjoint_arg else b)

    def __matmul__(self, x):
        return self.matmul(x)

    def matvec(self, x, adjoint=False, name=None):
        return ops.squeeze(self.matmul(ops.expand_dims(_t(x), -1), adjoint=adjoint), axis=-1)

    def solve(self, rhs, adjoint=False, adjoint_arg=False, name=None):
        if isinstance(rhs, LinearOperator):
            return LinearOperatorComposition([LinearOperatorInversion(self.adjoint() if adjoint else self),
                                              rhs.adjoint() if adjoint_arg else rhs])
        self._require_square("solve")
        a = self._dense()
        b = _t(rhs)
        return ops.solve(_adj(a) if adjoint else a, _adj(b) if adjoint_arg else b)

    def solvevec(self, rhs, adjoint=False, name=None):
        return ops.squeeze(self.solve(ops.expand_dims(_t(rhs), -1), adjoint=adjoint), axis=-1)

    def _require_square(self, op):
        if not self.is_square:
            raise ValueError(f"tf.linalg.{type(self).__name__}.{op}: the operator is not square "
                             f"({tuple(self.shape)})")

    def determinant(self, name=None):
        self._require_square("determinant")
        return ops.det(self._dense())

    def log_abs_determinant(self, name=None):
        self._require_square("log_abs_determinant")
        return ops.slogdet(self._dense())[1]

    def inverse(self, name=None):
        self._require_square("inverse")
        return LinearOperatorInversion(self)

    def adjoint(self, name=None):
        return LinearOperatorAdjoint(self)

    H = property(adjoint)

    def diag_part(self, name=None):
        return ops.diagonal(self._dense(), axis1=-2, axis2=-1)

    def trace(self, name=None):
        return ops.sum(self.diag_part(), axis=-1)

    def add_to_tensor(self, x, name=None):
        return ops.add(self._dense(), _t(x))

    def cholesky(self, name=None):
        return LinearOperatorLowerTriangular(ops.cholesky(self._dense()), is_non_singular=True)

    def eigvals(self, name=None):
        return ops.eigh(self._dense())[0] if self.is_self_adjoint else ops.eig(self._dense())[0]

    def assert_non_singular(self, name=None):
        if float(np.min(np.abs(np.linalg.eigvals(np.asarray(self._dense(), np.float64))))) == 0.0:
            from .debugging import InvalidArgumentError
            raise InvalidArgumentError(f"{self.name}: the operator is singular")

    def __repr__(self):
        return f"<tf.linalg.{type(self).__name__} '{self.name}' shape={tuple(self.shape)}>"


class LinearOperatorFullMatrix(LinearOperator):
    def __init__(self, matrix, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name="LinearOperatorFullMatrix"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self._matrix = _t(matrix)
        if self._matrix.ndim < 2:
            raise ValueError(f"tf.linalg.LinearOperatorFullMatrix: needs a matrix, got shape {tuple(self._matrix.shape)}")

    def _dense(self):
        return self._matrix


class LinearOperatorDiag(LinearOperator):
    def __init__(self, diag, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None, is_square=True,
                 name="LinearOperatorDiag"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.diag = _t(diag)

    def _dense(self):
        n = int(self.diag.shape[-1])
        return ops.multiply(ops.expand_dims(self.diag, -2), np.eye(n, dtype=np.float32))


class LinearOperatorIdentity(LinearOperator):
    def __init__(self, num_rows, batch_shape=None, dtype=None, is_non_singular=True, is_self_adjoint=True,
                 is_positive_definite=True, is_square=True, assert_proper_shapes=False, name="LinearOperatorIdentity"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self._n, self._batch = int(num_rows), tuple(int(d) for d in (batch_shape or ()))

    def _dense(self):
        return ops._to_tensor(np.broadcast_to(np.eye(self._n, dtype=np.float32), self._batch + (self._n,) * 2)
                                     .copy())


class LinearOperatorScaledIdentity(LinearOperator):
    def __init__(self, num_rows, multiplier, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=True, assert_proper_shapes=False, name="LinearOperatorScaledIdentity"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self._n, self.multiplier = int(num_rows), _t(multiplier)

    def _dense(self):
        return ops.multiply(ops.expand_dims(ops.expand_dims(self.multiplier, -1), -1), np.eye(self._n, dtype=np.float32))


class LinearOperatorLowerTriangular(LinearOperator):
    """The lower triangle of ``tril`` (what lies above the diagonal is ignored)."""

    def __init__(self, tril, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None, is_square=True,
                 name="LinearOperatorLowerTriangular"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self._tril = _t(tril)

    def _dense(self):
        n = int(self._tril.shape[-1])
        return ops.multiply(self._tril, np.tril(np.ones((n, n), np.float32)))


class LinearOperatorComposition(LinearOperator):
    """operators[0] @ operators[1] @ ..."""

    def __init__(self, operators, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name=None):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.operators = list(operators)
        if not self.operators:
            raise ValueError("tf.linalg.LinearOperatorComposition: needs at least one operator")

    def _dense(self):
        out = self.operators[0].to_dense()
        for op in self.operators[1:]:
            out = ops.matmul(out, op.to_dense())
        return out


class LinearOperatorInversion(LinearOperator):
    def __init__(self, operator, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name=None):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.operator = operator

    def _dense(self):
        return ops.inv(self.operator.to_dense())


class LinearOperatorAdjoint(LinearOperator):
    def __init__(self, operator, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name=None):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.operator = operator

    def _dense(self):
        return _adj(self.operator.to_dense())


class LinearOperatorKronecker(LinearOperator):
    def __init__(self, operators, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name=None):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.operators = list(operators)

    def _dense(self):
        out = self.operators[0].to_dense()
        for op in self.operators[1:]:
            out = ops.kron(out, op.to_dense())
        return out


def _blocks(rows):
    """The dense matrix of a list of rows of blocks (None: zeros of the block's size)."""
    heights = [next(int(b.shape[-2]) for b in row if b is not None) for row in rows]
    widths = {}
    for row in rows:
        for j, b in enumerate(row):
            if b is not None:
                widths[j] = int(b.shape[-1])
    out_rows = []
    for i, row in enumerate(rows):
        parts = [b if b is not None else ops.zeros((heights[i], widths[j])) for j, b in enumerate(row)]
        parts += [ops.zeros((heights[i], widths[j])) for j in range(len(row), len(widths))]
        out_rows.append(ops.concatenate(parts, axis=-1))
    return ops.concatenate(out_rows, axis=-2)


class LinearOperatorBlockDiag(LinearOperator):
    def __init__(self, operators, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=True, name=None):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.operators = list(operators)

    def _dense(self):
        d = [op.to_dense() for op in self.operators]
        return _blocks([[d[j] if j == i else None for j in range(len(d))] for i in range(len(d))])


class LinearOperatorBlockLowerTriangular(LinearOperator):
    """Rows of blocks [[A11], [A21, A22], ...] (the blocks above the diagonal are zero)."""

    def __init__(self, operators, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name=None):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.operators = [list(r) for r in operators]

    def _dense(self):
        return _blocks([[op.to_dense() for op in row] for row in self.operators])


class LinearOperatorLowRankUpdate(LinearOperator):
    """base + U diag(diag_update) V^T (V = U when not given)."""

    def __init__(self, base_operator, u, diag_update=None, v=None, is_diag_update_positive=None,
                 is_non_singular=None, is_self_adjoint=None, is_positive_definite=None, is_square=None, name=None):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.base_operator, self.u = base_operator, _t(u)
        self.v = self.u if v is None else _t(v)
        self.diag_update = None if diag_update is None else _t(diag_update)

    def _dense(self):
        u = self.u if self.diag_update is None else ops.multiply(self.u, ops.expand_dims(self.diag_update, -2))
        return ops.add(self.base_operator.to_dense(), ops.matmul(u, _adj(self.v)))


class LinearOperatorHouseholder(LinearOperator):
    """I - 2 v v^T / (v^T v): the reflection across the hyperplane orthogonal to v."""

    def __init__(self, reflection_axis, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name="LinearOperatorHouseholder"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.reflection_axis = _t(reflection_axis)

    def _dense(self):
        v = self.reflection_axis
        n = int(v.shape[-1])
        outer = ops.multiply(ops.expand_dims(v, -1), ops.expand_dims(v, -2))
        norm = ops.expand_dims(ops.expand_dims(ops.sum(ops.square(v), axis=-1), -1), -1)
        return ops.subtract(np.eye(n, dtype=np.float32), ops.divide(ops.multiply(outer, 2.0), norm))


class LinearOperatorPermutation(LinearOperator):
    """The permutation matrix P with P[i, perm[i]] = 1, so (P x)[i] = x[perm[i]]."""

    def __init__(self, perm, dtype=None, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name="LinearOperatorPermutation"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.perm = np.asarray(perm).astype(np.int64)

    def _dense(self):
        n = self.perm.shape[-1]
        return ops._to_tensor((self.perm[..., :, None] == np.arange(n)).astype(np.float32))


class LinearOperatorToeplitz(LinearOperator):
    """T[i, j] = col[i - j] for i >= j, row[j - i] above (row[0] is ignored: col[0] is the
    diagonal)."""

    def __init__(self, col, row, is_non_singular=None, is_self_adjoint=None, is_positive_definite=None,
                 is_square=None, name="LinearOperatorToeplitz"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.col, self.row = _t(col), _t(row)

    def _dense(self):
        n = int(self.col.shape[-1])
        flipped = ops.flip(self.row, axis=-1)                      # row[n-1], ..., row[1], row[0]
        upper = ops.slice(flipped, [0] * flipped.ndim, list(flipped.shape[:-1]) + [n - 1])
        both = ops.concatenate([upper, self.col], axis=-1)        # row[k] at n-1-k, col[k] at n-1+k
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        return ops.take(both, (n - 1 + i - j).astype(np.int64), axis=-1)


class LinearOperatorCirculant(LinearOperator):
    """The circulant matrix of ``spectrum`` (its DFT): C[i, j] = c[(i - j) mod n] with
    c = ifft(spectrum); the real part (input_output_dtype float32)."""

    def __init__(self, spectrum, input_output_dtype="float32", is_non_singular=None, is_self_adjoint=None,
                 is_positive_definite=None, is_square=True, name="LinearOperatorCirculant"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.spectrum = spectrum if isinstance(spectrum, tuple) else _t(spectrum)

    def _dense(self):
        re, im = (self.spectrum if isinstance(self.spectrum, tuple)
                  else (self.spectrum, ops.zeros_like(self.spectrum)))
        c = ops.ifft((_t(re), _t(im)))[0]
        n = int(c.shape[-1])
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        return ops.take(c, ((i - j) % n).astype(np.int64), axis=-1)


class LinearOperatorCirculant2D(LinearOperator):
    def __init__(self, spectrum, *args, **kwargs):
        raise NotImplementedError("tf.linalg.LinearOperatorCirculant2D: not available in corenn (1-D "
                                  "LinearOperatorCirculant is)")


class LinearOperatorCirculant3D(LinearOperatorCirculant2D):
    pass


class LinearOperatorTridiag(LinearOperator):
    def __init__(self, diagonals, diagonals_format="compact", is_non_singular=None, is_self_adjoint=None,
                 is_positive_definite=None, is_square=True, name="LinearOperatorTridiag"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self.diagonals, self.diagonals_format = diagonals, diagonals_format

    def _dense(self):
        from ._linalg_more import _tridiagonal_dense
        return _tridiagonal_dense("LinearOperatorTridiag", self.diagonals, self.diagonals_format)


class LinearOperatorZeros(LinearOperator):
    def __init__(self, num_rows, num_columns=None, batch_shape=None, dtype=None, is_non_singular=False,
                 is_self_adjoint=True, is_positive_definite=False, is_square=True, assert_proper_shapes=False,
                 name="LinearOperatorZeros"):
        super().__init__(is_non_singular, is_self_adjoint, is_positive_definite, is_square, name)
        self._shape = tuple(int(d) for d in (batch_shape or ())) + (int(num_rows),
                                                                       int(num_rows if num_columns is None else num_columns))
        if is_square and self._shape[-1] != self._shape[-2]:
            raise ValueError(f"tf.linalg.LinearOperatorZeros: is_square=True but num_rows {self._shape[-2]} != "
                             f"num_columns {self._shape[-1]}")

    def _dense(self):
        return ops.zeros(self._shape)
