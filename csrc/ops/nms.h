// Greedy non-maximum suppression (tf.image.non_max_suppression's selection), the loop part.
//
//   boxes (N, 4) float32, each two opposite corners (y1, x1, y2, x2) in either order
//   order (K,) int64: the candidate boxes, best first (the caller sorts by score and drops
//         those at or below the score threshold); indices in [0, N)
//   keep  (K,) int64 output: keep[0 .. count) the selected indices, in selection order
//   IoU(a, b) = inter / (area_a + area_b - inter), in double; 0 when either area is <= 0
//   walk the candidates in order: a candidate not yet suppressed is kept, and suppresses every
//   later candidate whose IoU with it exceeds iou_threshold; stop after max_output kept.
// Cost O(K * kept); serial, so the result never depends on the thread count.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// Returns how many indices were written to keep.
int64_t nms_greedy(const Tensor& boxes, const Tensor& order, const Tensor& keep,
                   int64_t max_output, double iou_threshold);

namespace cpu {
int64_t nms_greedy(const float* boxes, const int64_t* order, int64_t k, int64_t* keep,
                   int64_t max_output, double iou_threshold);
}  // namespace cpu

using NmsGreedyFn = decltype(&cpu::nms_greedy);
CORENN_DECLARE_DISPATCH(NmsGreedyFn, nms_greedy_stub);

}  // namespace corenn
