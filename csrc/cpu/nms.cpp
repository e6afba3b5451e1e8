// Greedy NMS loop (CPU); the math is in ops/nms.h.
//
// The candidates' boxes are gathered once, corners ordered, with their areas (double); each
// kept box then sweeps the later candidates that are still alive. A byte per candidate marks
// the suppressed ones.
#include <algorithm>
#include <vector>

#include "ops/nms.h"

namespace corenn::cpu {

int64_t nms_greedy(const float* boxes, const int64_t* order, int64_t k, int64_t* keep,
                   int64_t max_output, double iou_threshold) {
  std::vector<double> lo0(k), lo1(k), hi0(k), hi1(k), area(k);
  for (int64_t i = 0; i < k; ++i) {
    const float* b = boxes + 4 * order[i];
    lo0[i] = std::min<double>(b[0], b[2]);
    hi0[i] = std::max<double>(b[0], b[2]);
    lo1[i] = std::min<double>(b[1], b[3]);
    hi1[i] = std::max<double>(b[1], b[3]);
    area[i] = (hi0[i] - lo0[i]) * (hi1[i] - lo1[i]);
  }
  std::vector<char> suppressed(k, 0);
  int64_t count = 0;
  for (int64_t i = 0; i < k && count < max_output; ++i) {
    if (suppressed[i]) continue;
    keep[count++] = order[i];
    if (area[i] <= 0.0) continue;   // IoU 0 with everything: suppresses nothing
    for (int64_t j = i + 1; j < k; ++j) {
      if (suppressed[j] || area[j] <= 0.0) continue;
      const double ih = std::max(0.0, std::min(hi0[i], hi0[j]) - std::max(lo0[i], lo0[j]));
      const double iw = std::max(0.0, std::min(hi1[i], hi1[j]) - std::max(lo1[i], lo1[j]));
      const double inter = ih * iw;
      if (inter / (area[i] + area[j] - inter) > iou_threshold) suppressed[j] = 1;
    }
  }
  return count;
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(nms_greedy_stub, Slot::cpu_ref, nms_greedy);
}  // namespace corenn::cpu
