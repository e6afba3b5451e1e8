// The x86 GEMM kernels and packers (compiled only on x86-64, from files whose names carry _avx2 /
// _avx512). Only those files, and x86 kernel files that call them directly, include this header;
// everyone else reaches them through gemm_packed_context_stub / sgemm_context_stub (gemm.h).
#pragma once

#include <cstdint>

#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

void gemm_ukr_avx2_f32_6x16(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                            const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                            const UkrArgs& args);
// m <= 12, n <= 32; packed panels have rs_a = 1, cs_a = 12, ldb = 32 (the file says why 12 x 32).
void gemm_ukr_avx512_f32_12x32(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                               const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                               const UkrArgs& args);
// m <= 12, n <= 16: the same kernel one 16-lane vector wide, for narrow problems (N <= 16: a
// Dense(10) head, a conv to a few channels); packed panels have rs_a = 1, cs_a = 12, ldb = 16.
void gemm_ukr_avx512_f32_12x16(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                               const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                               const UkrArgs& args);
// The small-M path's wide tiles (GemmContext::wide_ukr): m <= 2 rows of A and B both read in
// place, n = 64 (avx2: 8 ymm chains per row) or 128 (avx512: 8 zmm) columns, per-element
// arithmetic identical to the 6 x 16 / 12 x 32 tile of the same ISA.
void gemm_ukr_avx2_f32_2x64(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                            const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                            const UkrArgs& args);
void gemm_ukr_avx512_f32_2x128(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                               const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                               const UkrArgs& args);

// AVX2 versions of three 6 x 16 packers (pack_avx2.cpp). pack_a_*_avx2 may write 16 floats past
// the block: size buffers with kPackSlack.
void pack_a_n_avx2(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                   float* dst);
void pack_a_t_avx2(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                   float* dst);
void pack_b_t_avx2(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                   float* dst);
// dst[p * MR + r] = src[r][p] for p < len: len depth steps of one A panel whose MR rows are
// separate runs (a convolution's patch rows); writes up to 2 floats past dst + len * MR.
void pack_a_rows_avx2(const float* const* src, int64_t len, float* dst);
// The packers of the 12 x 32 format (pack_avx512.cpp). They write nothing past their panels.
void pack_a_n_avx512(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                     float* dst);
void pack_a_t_avx512(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                     float* dst);
void pack_b_n_avx512(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                     float* dst);
void pack_b_t_avx512(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                     float* dst);
// dst[p * 12 + r] = src[r][p] for p < len: the 12-row form of pack_a_rows_avx2. Writes nothing
// past dst + len * 12 and reads nothing past src[r] + len (masked tail).
void pack_a_rows_avx512(const float* const* src, int64_t len, float* dst);

}  // namespace corenn::cpu::gemm
