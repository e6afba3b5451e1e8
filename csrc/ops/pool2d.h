// 2-D pooling over NHWC images: max, average, and their global (whole-image) forms.
//
//   x (N, H, W, C) -> y (N, OH, OW, C); window KH x KW, strides SH, SW; padding 'valid' or 'same'
//   with TensorFlow's rule (pad_total = max((ceil(H/SH) - 1) SH + KH - H, 0), half before, the
//   extra one after). Padded cells never win a max and are not counted by an average (as Keras).
//   max keeps argmax (N, OH, OW, C) int32: the flat spatial index h*W + w of the winner in x.
//   global pooling: x (N, H, W, C) -> y (N, C), global max keeps argmax (N, C) int32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// One pooling problem, flattened to plain integers (shared by all kernels in cpu/pool2d.cpp).
struct Pool2dGeom {
  int64_t n, h, w, c;     // input
  int64_t oh, ow;         // output
  int64_t kh, kw, sh, sw;
  int64_t pad_top, pad_left;
};

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                        const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                        const std::string& padding);
void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Tensor& dx,
                         const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                         const std::string& padding);
void avg_pool2d_forward(const Tensor& x, const Tensor& y, const std::vector<int64_t>& pool_size,
                        const std::vector<int64_t>& strides, const std::string& padding);
void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const std::vector<int64_t>& pool_size,
                         const std::vector<int64_t>& strides, const std::string& padding);
void global_avg_pool2d_forward(const Tensor& x, const Tensor& y);
void global_avg_pool2d_backward(const Tensor& dy, const Tensor& dx);
void global_max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax);
void global_max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Tensor& dx);

// (OH, OW) for an input (H, W); raises naming `op` when the window does not fit ('valid').
std::vector<int64_t> pool2d_output_hw(const char* op, int64_t h, int64_t w,
                                      const std::vector<int64_t>& pool_size,
                                      const std::vector<int64_t>& strides, const std::string& padding);

// ---- kernels (dispatch table) -------------------------------------------------------------------
// cpu/pool2d.cpp (cpu_ref; it runs the per-ISA max-pooling cells of max_pool2d_cells_stub) and
// cuda/pool2d.cu (cuda). `like` names the device; inputs validated, nothing empty.
using Pool2dFn = void (*)(const Tensor& like, const Pool2dGeom& g, const float* x, float* y);
using MaxPool2dForwardFn = void (*)(const Tensor& like, const Pool2dGeom& g, const float* x,
                                    float* y, int32_t* argmax);
// True when the kernel verified that every argmax entry was a cell of its window; false when it
// could not tell (the entry then checks).
using MaxPool2dBackwardFn = bool (*)(const Tensor& like, const Pool2dGeom& g, const float* dy,
                                     const int32_t* argmax, float* dx);
using GlobalPool2dFn = void (*)(const Tensor& like, int64_t n, int64_t hw, int64_t c,
                                const float* src, float* dst);
using GlobalMaxPool2dForwardFn = void (*)(const Tensor& like, int64_t n, int64_t hw, int64_t c,
                                          const float* x, float* y, int32_t* argmax);
// Returns the flat index of an argmax entry outside its image (then nothing is written), or -1.
using GlobalMaxPool2dBackwardFn = int64_t (*)(const Tensor& like, int64_t n, int64_t hw, int64_t c,
                                              const float* dy, const int32_t* argmax, float* dx);
CORENN_DECLARE_DISPATCH(MaxPool2dForwardFn, max_pool2d_forward_stub);
CORENN_DECLARE_DISPATCH(MaxPool2dBackwardFn, max_pool2d_backward_stub);
CORENN_DECLARE_DISPATCH(Pool2dFn, avg_pool2d_forward_stub);
CORENN_DECLARE_DISPATCH(Pool2dFn, avg_pool2d_backward_stub);
CORENN_DECLARE_DISPATCH(GlobalPool2dFn, global_avg_pool2d_forward_stub);
CORENN_DECLARE_DISPATCH(GlobalPool2dFn, global_avg_pool2d_backward_stub);
CORENN_DECLARE_DISPATCH(GlobalMaxPool2dForwardFn, global_max_pool2d_forward_stub);
CORENN_DECLARE_DISPATCH(GlobalMaxPool2dBackwardFn, global_max_pool2d_backward_stub);

// Raises naming `op` unless every argmax entry (CPU tensor) is a cell of its own window of `g`.
void check_max_pool_argmax(const char* op, const Tensor& argmax, const Pool2dGeom& g);

namespace cpu {
// The inner loops of max pooling, per ISA (max_pool2d_cells_stub: cpu_ref in cpu/pool2d.cpp,
// avx2 in cpu/pool2d_avx2.cpp, avx512 in cpu/pool2d_avx512.cpp). pool_cell: one window of nc channels (cells rows x cols, strides
// in floats), writing its max and argmax; grad_cell: the gradient of one dx cell gathered from the
// ni x nj windows that may cover it; grad_row_tiled (may be null): one dx row when the windows
// tile the image (stride == pool, no padding), returning how many argmax entries it routed.
struct MaxPoolCells {
  void (*pool_cell)(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                    int64_t cols, int32_t first_idx, int32_t idx_row_step, int64_t nc, float* y,
                    int32_t* am);
  void (*grad_cell)(const float* dy, const int32_t* am, int64_t i_stride, int64_t j_stride,
                    int64_t ni, int64_t nj, int32_t idx, int64_t nc, float* d);
  int64_t (*grad_row_tiled)(const float* dy_row, const int32_t* am_row, int64_t w_cells,
                            int64_t kw, int64_t ow, int32_t first_idx, int64_t nc, float* dx_row);
};
using MaxPoolCellsRef = const MaxPoolCells*;
CORENN_DECLARE_DISPATCH(MaxPoolCellsRef, max_pool2d_cells_stub);

// The inner loops of average pooling (windowed and global), per ISA (avg_pool2d_cells_stub:
// cpu_ref in cpu/pool2d.cpp, avx512 in cpu/pool2d_avx512.cpp). sum_cell: y[c] = scale * the sum
// over rows x cols cells (strides in floats); grad_cell: d[c] = sum over the ni x nj windows
// (i, j) at off = i * i_stride + j * j_stride of dy[off + c] / (row_count[i] * col_count[j]),
// the cell counts of those windows (floats, so the scale is the reference's 1 / (rows * cols)).
struct AvgPoolCells {
  void (*sum_cell)(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                   int64_t cols, float scale, int64_t nc, float* y);
  void (*grad_cell)(const float* dy, int64_t i_stride, int64_t j_stride, int64_t ni, int64_t nj,
                    const float* row_count, const float* col_count, int64_t nc, float* d);
};
using AvgPoolCellsRef = const AvgPoolCells*;
CORENN_DECLARE_DISPATCH(AvgPoolCellsRef, avg_pool2d_cells_stub);

void max_pool2d_forward(const Pool2dGeom& g, const float* x, float* y, int32_t* argmax);
// True when it verified that every argmax entry was a cell of its window (the tiled AVX2 path
// counts the entries it routed); false when it could not tell.
bool max_pool2d_backward(const Pool2dGeom& g, const float* dy, const int32_t* argmax, float* dx);
void avg_pool2d_forward(const Pool2dGeom& g, const float* x, float* y);
void avg_pool2d_backward(const Pool2dGeom& g, const float* dy, float* dx);
void global_avg_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y);
void global_avg_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy, float* dx);
void global_max_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y,
                               int32_t* argmax);
void global_max_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy,
                                const int32_t* argmax, float* dx);
// The flat index of the first argmax entry that is not a cell of its own window, or -1.
int64_t max_pool2d_first_bad_argmax(const Pool2dGeom& g, const int32_t* argmax);
int64_t global_max_pool2d_first_bad_argmax(int64_t n, int64_t hw, int64_t c, const int32_t* argmax);
}  // namespace cpu

}  // namespace corenn
