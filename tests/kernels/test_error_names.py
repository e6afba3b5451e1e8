"""Every rejection from corenn.kernels names the function that was called.

The C++ entries name their op; these are the errors raised on the Python side before the call
reaches them (bad parameter types, unknown names, pybind11's argument conversion), which the
wrapper in kernels.py prefixes with the function's name and maps to ValueError / TypeError.
"""
import numpy as np
import pytest

import corenn
from corenn import kernels


@pytest.mark.parametrize("call, kind, pattern", [
    (lambda x: kernels.avg_pool2d_forward(x, 2.5, 2), TypeError, r"^avg_pool2d_forward: "),
    (lambda x: kernels.dropout_forward(x, None, 0), TypeError, r"^dropout_forward: "),
    (lambda x: kernels.rnn_forward("full", x[:, :, 0], np.ones((4, 4), np.float32),
                               np.ones((1, 4), np.float32)), ValueError, r"rnn_forward"),
    (lambda x: kernels.empty_like([[1.0]]), TypeError, r"^empty_like: "),
    (lambda x: kernels.conv_output_length(8, 3, 0, "same", 1), ValueError, r"conv2d: stride must be >= 1"),
    (lambda x: kernels.conv_output_length(8, 3, 1, "same", "2"), TypeError, r"conv2d: dilation must be an integer"),
    (lambda x: kernels.empty([2, 2], device="gpu"), ValueError, r"Tensor.empty: invalid device 'gpu'"),
    (lambda x: corenn.Tensor.zeros([2], "bfloat16"), TypeError, r"Tensor.zeros: unsupported dtype"),
    (lambda x: kernels.activation_forward("relu", x, alpha=1j), TypeError, r"^activation_forward: "),
])
def test_python_side_errors_name_the_function(call, kind, pattern):
    x = np.ones((2, 4, 4, 1), np.float32)
    with pytest.raises(kind, match=pattern):
        call(x)


def test_a_data_gradient_refuses_an_out_that_contradicts_input_shape():
    dy = np.ones((2, 2, 2, 3), np.float32)
    w = np.ones((3, 3, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"conv2d_backward_data: out has shape \(2, 4, 3, 2\) but the "
                                         r"shape argument says \(2, 4, 4, 2\)"):
        kernels.conv2d_backward_data(dy, w, (2, 4, 4, 2), out=np.zeros((2, 4, 3, 2), np.float32),
                                 strides=2, padding="same")


def test_wrapped_functions_keep_their_names_and_docs():
    assert kernels.gemm.__name__ == "gemm" and "C := act" in kernels.gemm.__doc__


def test_an_absurd_thread_count_is_refused():
    before = kernels.get_num_threads()
    with pytest.raises(ValueError, match="set_num_threads: n = 1000000 is more than the 1024"):
        kernels.set_num_threads(10**6)
    with pytest.raises(TypeError, match="set_num_threads"):
        kernels.set_num_threads(2**40)  # beyond C int: pybind11's conversion error, which names it
    assert kernels.get_num_threads() == before


def test_conv2d_refuses_an_out_of_another_shape():
    # The kernel takes its output size from out: a shorter out used to get a partial result.
    x = np.ones((1, 3, 3, 1), np.float32)
    w = np.ones((1, 3, 1, 3), np.float32)
    with pytest.raises(ValueError, match=r"conv2d_forward: out has shape \(1, 2, 1, 3\) but the shape "
                                         r"argument says \(1, 3, 1, 3\)"):
        kernels.conv2d(x, w, out=np.zeros((1, 2, 1, 3), np.float32))
