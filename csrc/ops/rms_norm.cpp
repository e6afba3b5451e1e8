// Entry for RMS normalization: checks (shared with layer_norm, ops/trailing_norm_common.h), then
// the kernels of the dispatch table (cpu/rms_norm.cpp, cuda/rms_norm.cu). x is (leading...,
// trailing...) with norm_ndim trailing axes normalised together; gamma has the trailing shape,
// inv_rms is (R,) with R the product of the leading axes.
#include "ops/rms_norm.h"

#include <algorithm>

#include "ops/trailing_norm_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(RmsNormForwardFn, rms_norm_forward_stub, "rms_norm_forward");
CORENN_DEFINE_DISPATCH(RmsNormBackwardFn, rms_norm_backward_stub, "rms_norm_backward");

void rms_norm_forward(const Tensor& x, const std::optional<Tensor>& gamma, const Tensor& y,
                      const Tensor& inv_rms, int64_t norm_ndim, double epsilon) {
  rms_norm_forward_stub.check_device(x.device());
  const NormRows r = check_trailing_norm_forward("rms_norm_forward", x, y,
                                                 {{"gamma", optional_arg(gamma)}},
                                                 {{"inv_rms", &inv_rms}}, norm_ndim, epsilon);
  if (x.numel() == 0) return;
  rms_norm_forward_stub(x.device())(x, x.data<float>(), data_or_null(gamma), y.data<float>(),
                                    inv_rms.data<float>(), r.rows, r.d, epsilon);
}

void rms_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                       const Tensor& inv_rms, const std::optional<Tensor>& dx,
                       const std::optional<Tensor>& dgamma, int64_t norm_ndim) {
  rms_norm_backward_stub.check_device(x.device());
  const NormRows r = check_trailing_norm_backward(
      "rms_norm_backward", dy, x, optional_arg(gamma), {{"inv_rms", &inv_rms}}, optional_arg(dx),
      {{"dgamma", optional_arg(dgamma)}}, norm_ndim);
  if (r.rows == 0 || r.d == 0) {  // no rows: the weight gradient is a sum over nothing
    if (float* p = mutable_data_or_null(dgamma)) std::fill(p, p + r.d, 0.0f);
    return;
  }
  rms_norm_backward_stub(x.device())(x, dy.data<float>(), x.data<float>(), data_or_null(gamma),
                                     inv_rms.data<float>(), mutable_data_or_null(dx),
                                     mutable_data_or_null(dgamma), r.rows, r.d);
}

}  // namespace corenn
