// Projective (affine) warping of NHWC images, one transform per sample (Keras
// ops.image.affine_transform; the engine of RandomFlip, RandomCrop, RandomTranslation,
// RandomRotation and RandomZoom), and its gradient with respect to the images.
//
//   x / dx (N, H, W, C), y / dy (N, OH, OW, C), transforms (N, 8) float32
//   transform [a0 a1 a2 b0 b1 b2 c0 c1] maps the output pixel (col X, row Y) to the input point
//     k = c0 X + c1 Y + 1,  xin = (a0 X + a1 Y + a2) / k,  yin = (b0 X + b1 Y + b2) / k
//   (pixel centres at integers; k == 0 gives fill_value), as Keras / TF.
//   nearest   the source pixel (round(yin), round(xin)) (halves away from zero)
//   bilinear  the four pixels (floor, floor + 1) around (yin, xin) weighted by the distances
//   fill_mode maps each source index i outside [0, len) (scipy grid modes, as Keras 3's JAX and
//             NumPy backends apply them to the neighbour indices):
//     reflect   half-sample symmetric, d c b a | a b c d | d c b a
//     wrap      i mod len,             a b c d | a b c d | a b c d
//     nearest   clamp to the edge,     a a a a | a b c d | d d d d
//     constant  the pixel reads fill_value
//   backward  dx = the transpose of that linear map in x (fill values carry no gradient); the
//             transforms are constants (no gradient for them).
#pragma once

#include <cstdint>
#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void image_transform_forward(const Tensor& x, const Tensor& transforms, const Tensor& y,
                             const std::string& interpolation, const std::string& fill_mode,
                             double fill_value);
void image_transform_backward(const Tensor& dy, const Tensor& transforms, const Tensor& dx,
                              const std::string& interpolation, const std::string& fill_mode);

namespace cpu {
enum class FillMode { kReflect, kWrap, kNearest, kConstant };
struct ImageTransformShape {
  int64_t n, h, w, c, oh, ow;
};
void image_transform_forward(const float* x, const float* transforms, float* y,
                             const ImageTransformShape& s, bool bilinear, FillMode mode,
                             float fill_value);
void image_transform_backward(const float* dy, const float* transforms, float* dx,
                              const ImageTransformShape& s, bool bilinear, FillMode mode);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/image_transform.cpp registers cpu_ref.
using ImageTransformForwardFn = decltype(&cpu::image_transform_forward);
CORENN_DECLARE_DISPATCH(ImageTransformForwardFn, image_transform_forward_stub);
using ImageTransformBackwardFn = decltype(&cpu::image_transform_backward);
CORENN_DECLARE_DISPATCH(ImageTransformBackwardFn, image_transform_backward_stub);

}  // namespace corenn
