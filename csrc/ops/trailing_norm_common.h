// Checks shared by the entries of the normalizations over trailing axes (ops/layer_norm,
// ops/rms_norm): x is viewed as (R, D), D the product of its last norm_ndim axes; per-feature
// tensors (gamma, beta and their gradients) have the trailing shape, per-row statistics (mean,
// inv_std, inv_rms) are (R,). Every message names the calling op and the argument.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace corenn {

// x as rows: R rows of D features; `trailing` is the shape per-feature tensors must have.
struct NormRows {
  int64_t rows, d;
  std::vector<int64_t> trailing;
};

// An argument's name and its tensor (null when the optional argument is absent).
using NamedTensor = std::pair<const char*, const Tensor*>;

inline const Tensor* optional_arg(const std::optional<Tensor>& t) { return t ? &*t : nullptr; }
inline const float* data_or_null(const std::optional<Tensor>& t) {
  return t ? t->data<float>() : nullptr;
}
inline float* mutable_data_or_null(const std::optional<Tensor>& t) {
  return t ? t->data<float>() : nullptr;
}

// The forward's arguments: x; y (x's shape, written, may be x itself); the per-feature
// parameters (read); the per-row statistics (written); epsilon > 0. Nothing written overlaps
// anything else, except y and x when they are the same buffer. The caller checks x's device
// against its dispatch stub first.
NormRows check_trailing_norm_forward(const char* op, const Tensor& x, const Tensor& y,
                                     std::initializer_list<NamedTensor> params,
                                     std::initializer_list<NamedTensor> stats, int64_t norm_ndim,
                                     double epsilon);

// The backward's arguments: dy, x (same shape); gamma (per feature, optional); the per-row
// statistics the forward wrote (read); dx (x's shape, optional, may be dy itself) and the
// per-feature gradients (optional), all written and overlapping nothing else.
NormRows check_trailing_norm_backward(const char* op, const Tensor& dy, const Tensor& x,
                                      const Tensor* gamma, std::initializer_list<NamedTensor> stats,
                                      const Tensor* dx,
                                      std::initializer_list<NamedTensor> feature_grads,
                                      int64_t norm_ndim);

}  // namespace corenn
