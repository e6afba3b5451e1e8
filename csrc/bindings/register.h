// One register_<family>() per source file in bindings/, all called from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace corenn::bindings {

namespace py = pybind11;

void register_tensor(py::module_& m);       // Tensor, DLPack, threads, ISA
void register_gemm(py::module_& m);         // gemm
void register_elementwise(py::module_& m);  // activations, softmax, bias_grad, dropout, regularizers
void register_loss(py::module_& m);         // losses, accuracy, CTC
void register_optimizer(py::module_& m);    // fused optimizer updates
void register_norm(py::module_& m);         // batch / layer normalization, spatial dropout
void register_conv(py::module_& m);         // conv2d forward / backward
void register_pool(py::module_& m);         // pooling, zero padding
void register_embedding(py::module_& m);    // embedding lookup forward / backward
void register_rnn(py::module_& m);          // SimpleRNN / LSTM / GRU forward and backward
void register_layout(py::module_& m);       // transpose, repeat_vector, upsample2d
void register_tensor_math(py::module_& m);  // binary / unary / reduce / concat / batched_matmul
void register_attention(py::module_& m);     // fused masked softmax (MultiHeadAttention)
void register_image(py::module_& m);         // resize2d, image_transform (preprocessing layers), nms_greedy

}  // namespace corenn::bindings
