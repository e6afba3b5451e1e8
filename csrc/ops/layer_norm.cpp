// Entry for layer normalization: checks (shared with rms_norm, ops/trailing_norm_common.h), then
// the kernels of the dispatch table (cpu/layer_norm.cpp). x is (leading..., trailing...) with
// norm_ndim trailing axes normalised together; gamma / beta have the trailing shape, mean /
// inv_std are (R,) with R the product of the leading axes.
#include "ops/layer_norm.h"

#include <algorithm>

#include "ops/trailing_norm_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(LayerNormForwardFn, layer_norm_forward_stub, "layer_norm_forward");
CORENN_DEFINE_DISPATCH(LayerNormBackwardFn, layer_norm_backward_stub, "layer_norm_backward");

void layer_norm_forward(const Tensor& x, const std::optional<Tensor>& gamma,
                        const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                        const Tensor& inv_std, int64_t norm_ndim, double epsilon) {
  layer_norm_forward_stub.check_device(x.device());
  const NormRows r = check_trailing_norm_forward(
      "layer_norm_forward", x, y, {{"gamma", optional_arg(gamma)}, {"beta", optional_arg(beta)}},
      {{"mean", &mean}, {"inv_std", &inv_std}}, norm_ndim, epsilon);
  if (x.numel() == 0) return;
  layer_norm_forward_stub(x.device())(x.data<float>(), data_or_null(gamma), data_or_null(beta),
                                      y.data<float>(), mean.data<float>(), inv_std.data<float>(),
                                      r.rows, r.d, epsilon);
}

void layer_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                         const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                         const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                         int64_t norm_ndim) {
  layer_norm_backward_stub.check_device(x.device());
  const NormRows r = check_trailing_norm_backward(
      "layer_norm_backward", dy, x, optional_arg(gamma), {{"mean", &mean}, {"inv_std", &inv_std}},
      optional_arg(dx), {{"dgamma", optional_arg(dgamma)}, {"dbeta", optional_arg(dbeta)}},
      norm_ndim);
  if (r.rows == 0 || r.d == 0) {  // no rows: the weight gradients are sums over nothing
    for (float* p : {mutable_data_or_null(dgamma), mutable_data_or_null(dbeta)})
      if (p) std::fill(p, p + r.d, 0.0f);
    return;
  }
  layer_norm_backward_stub(x.device())(dy.data<float>(), x.data<float>(), data_or_null(gamma),
                                       mean.data<float>(), inv_std.data<float>(),
                                       mutable_data_or_null(dx), mutable_data_or_null(dgamma),
                                       mutable_data_or_null(dbeta), r.rows, r.d);
}

}  // namespace corenn
