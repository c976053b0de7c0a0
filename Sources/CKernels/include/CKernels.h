// CKernels: the few hot loops of quadcat that must run near memory bandwidth.
//
// Every function picks an AVX2/F16C path at run time when the CPU has it and falls back to portable C
// otherwise, so one binary runs on any x86-64 (and on other architectures through the portable path).
// All element counts are in elements, not bytes. Nothing allocates but the SHA-256 state (OpenSSL).
#ifndef QUADCAT_CKERNELS_H
#define QUADCAT_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The VERSION file at the repository root, as compiled in (with its trailing newline): quadcat's
/// version. Swift reads it as `Catalog.toolVersion`.
const char *qc_version_file(void);

/// Returns 1 when the AVX2+FMA+F16C paths are in use, 0 for the portable path.
int qc_simd_level(void);
/// Forces the portable paths (1) or restores run-time dispatch (0). For tests that compare both paths.
void qc_force_portable(int portable);

// MARK: - Precision conversion

/// IEEE binary16 -> binary32 (exact).
void qc_f16_to_f32(const uint16_t *src, float *dst, size_t n);
/// binary32 -> binary16, round to nearest even; overflow gives +-inf, NaN stays NaN.
void qc_f32_to_f16(const float *src, uint16_t *dst, size_t n);
/// bfloat16 -> binary32 (exact).
void qc_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
/// binary32 -> bfloat16, round to nearest even; NaN stays NaN.
void qc_f32_to_bf16(const float *src, uint16_t *dst, size_t n);

/// Symmetric per-row int8 quantisation: scale[r] = max|x| / 127, q = round(x / scale), clamped to
/// [-127, 127]. A row of zeros gets scale 0 and all-zero codes.
void qc_quantize_rows_i8(const float *src, size_t rows, size_t dim, int8_t *dst, float *scales);
/// Inverse of `qc_quantize_rows_i8`: dst = q * scale[r].
void qc_dequantize_rows_i8(const int8_t *src, const float *scales, size_t rows, size_t dim, float *dst);

/// Symmetric per-row int4 quantisation: scale[r] = max|x| / 7, q = round(x / scale) in [-7, 7], packed two
/// per byte (element 2j in the low nibble, 2j+1 in the high nibble, two's complement); a row takes
/// (dim + 1) / 2 bytes.
void qc_quantize_rows_i4(const float *src, size_t rows, size_t dim, uint8_t *dst, float *scales);
/// Inverse of `qc_quantize_rows_i4`.
void qc_dequantize_rows_i4(const uint8_t *src, const float *scales, size_t rows, size_t dim, float *dst);

// MARK: - Validation

/// Index of the first element that is NaN or +-inf, or -1 when all are finite.
ptrdiff_t qc_first_nonfinite_f32(const float *src, size_t n);
ptrdiff_t qc_first_nonfinite_f16(const uint16_t *src, size_t n);
ptrdiff_t qc_first_nonfinite_bf16(const uint16_t *src, size_t n);

// MARK: - Byte shuffle (Blosc-style), for the shuffle-lz4 codec

/// Splits `n` elements of `elem_size` bytes into `elem_size` planes: byte b of element i goes to
/// dst[b * n + i].
void qc_byte_shuffle(const uint8_t *src, uint8_t *dst, size_t n, size_t elem_size);
/// Inverse of `qc_byte_shuffle`.
void qc_byte_unshuffle(const uint8_t *src, uint8_t *dst, size_t n, size_t elem_size);

// MARK: - Vector helpers

/// Euclidean norm of each row, accumulated in double.
void qc_row_norms_f32(const float *src, size_t rows, size_t dim, float *norms);
/// out[i * m + t] = rows[i] . vectors[t] for every row (n x dim, row-major) and every vector (m x dim):
/// one pass over the rows, each row read once for all vectors; blocks of rows share each chunk of the
/// vectors from cache, so it stays fast when the vectors outgrow L2. Every output has the same bits as
/// the one-row call gives (the summation order depends only on dim), so results do not depend on how a
/// caller splits its rows. For few vectors this avoids the packing a GEMM does on every call.
void qc_dot_rows_vectors(const float *rows, size_t n, size_t dim, const float *vectors, size_t m, float *out);
/// The nearest of k centroids (k x dim) for each of n rows, exactly as a scan of every centroid with
/// `qc_dot_rows_vectors` would find it (distance ||c||^2 - 2 x.c, ties to the lower index), given
/// `scores[i * k + j]` ~ x_i . c_j - ||c_j||^2 / 2 from any GEMM: only the centroids whose score lies
/// within the rounding bound of the best are checked with the reference dot product, so the answer
/// does not depend on how the GEMM blocked or rounded. `centroid_norms2` are the squared norms the
/// scores used; `max_centroid_norm` the largest centroid norm. Writes the label and the squared
/// distance ||x||^2 + ||c||^2 - 2 x.c (at least 0) of each row.
void qc_nearest_refine(const float *rows, size_t n, size_t dim, const float *centroids, const float *centroid_norms2,
                       size_t k, float max_centroid_norm, const float *scores, int64_t *labels, float *distances);
/// Principal coordinates for `qc_trial_nearest`'s first screen: y = P^T (x - mu) for each row and each
/// trial, P a dim x p matrix with orthonormal columns, computed in float64 and rounded once to float.
typedef struct {
    const float *rows;        ///< n x p (the same rows as the call's, in order)
    const float *norms;       ///< n: |y|^2 of each row's float coordinates
    const float *trials;      ///< m x p
    const float *trial_norms; ///< m
    size_t p;                 ///< a multiple of 8
    float slack;              ///< an absolute bound on the float64 work's error in |y_x - y_c|
} qc_principal_coords;

/// One greedy k-means++ step: out[i * m + t] = min(nearest[i], d), d = max(0, (norms[i] - 2 rows[i] . trials[t])
/// + trial_norms[t]) in float32 (norms squared, dots as `qc_dot_rows_vectors`, no fused multiply-add).
/// With `half` (the rows as float16, every |element| <= 65504) and AVX2, pairs are screened before d is
/// computed: first on `coords` when given (|y_x - y_c| <= |x - c|: a few bytes a row), then on the
/// float16 copy (half the bytes of the rows); d is computed in float32 only where neither screen's error
/// bound proves d >= nearest[i]. The output has the same bits either way.
void qc_trial_nearest(const float *rows, const uint16_t *half, size_t n, size_t dim, const float *norms,
                      const float *nearest, const float *trials, const float *trial_norms, size_t m,
                      const qc_principal_coords *coords, float *out);
/// Sum of all elements, accumulated with wide SIMD; used to measure memory-read bandwidth.
double qc_sum_f32(const float *src, size_t n);

// MARK: - Hashes

/// xxHash64 state for streaming use. Treat as opaque.
typedef struct {
    uint64_t total_len;
    uint64_t v[4];
    uint8_t buffer[32];
    uint32_t buffered;
    uint64_t seed;
} qc_xxh64_state;

void qc_xxh64_init(qc_xxh64_state *state, uint64_t seed);
void qc_xxh64_update(qc_xxh64_state *state, const void *data, size_t len);
uint64_t qc_xxh64_digest(const qc_xxh64_state *state);
/// One-shot xxHash64 (Yann Collet's XXH64, bit-compatible with the reference).
uint64_t qc_xxh64(const void *data, size_t len, uint64_t seed);

/// SHA-256 (OpenSSL's libcrypto) for streaming use: `qc_sha256_init` allocates the state's context,
/// `qc_sha256_final` or `qc_sha256_discard` releases it. Treat as opaque.
typedef struct {
    void *context;
} qc_sha256_state;

void qc_sha256_init(qc_sha256_state *state);
void qc_sha256_update(qc_sha256_state *state, const void *data, size_t len);
/// Writes the 32-byte digest to `out` and releases the state. The state must not be used afterwards.
void qc_sha256_final(qc_sha256_state *state, uint8_t out[32]);
/// Releases a state without computing its digest (an abandoned hash).
void qc_sha256_discard(qc_sha256_state *state);
/// One-shot SHA-256 of `len` bytes. Allocates nothing after a thread's first call; safe from any thread.
void qc_sha256(const void *data, size_t len, uint8_t out[32]);

// MARK: - File helpers

/// Starts write-back of a file range without waiting (Linux sync_file_range), so that a later fsync
/// has little left to do. Returns 0 on success, -1 with errno set.
int qc_start_writeback(int fd, int64_t offset, int64_t length);
/// Maps a whole file read-only and shared; `populate` pre-faults the pages. NULL on failure (errno set).
void *qc_map_readonly(int fd, size_t length, int populate);
/// Unmaps a mapping made by `qc_map_readonly`.
int qc_unmap(void *address, size_t length);

/// Fills `out` with `n` values of the counter-based noise stream (seed, key): mean 0, standard deviation
/// `scale`, approximately Gaussian (Irwin-Hall of four uniforms). Value i depends on (seed, key, i) only.
void qc_fill_noise(uint64_t seed, uint64_t key, float scale, float *out, size_t n);
/// A 64-bit hash of (a, b) (SplitMix64 finalisers), for keying values by (seed, row).
uint64_t qc_mix64(uint64_t a, uint64_t b);

/// Row formats the product kernels read in place.
#define QC_ROW_F32 0
#define QC_ROW_F16 1
#define QC_ROW_F64 2
/// out[i * ldo + t] = rows[i] . dirs[t] for nrows rows of length n (Float32, Float16 or Float64,
/// `format`) and ndirs Float64 vectors (dirs[t] at dirs + t * ldd). Each product follows one canonical
/// chain of fused multiply-adds (products.c), so the bits do not depend on the tile, the batch or the CPU.
void qc_dot_block_f64(const void *const *rows, int format, size_t nrows, const double *dirs, size_t ldd, size_t ndirs,
                      size_t n, double *out, size_t ldo);
/// One product row . y by the same chain as `qc_dot_block_f64`.
double qc_dot_f64(const void *row, int format, const double *y, size_t n);
/// u[j] -= sum_t coefficients[t] * dirs[t][j] for j in [j0, j1), each term one fused multiply-add in
/// ascending t.
void qc_subtract_scaled_f64(double *u, const double *coefficients, const double *dirs, size_t ndirs, size_t n, size_t j0, size_t j1);

/// For t in 0..<ndirs: products[t] = row . dirs[t] (canonical chain) and u -= products[t] * dirs[t]
/// (one fused multiply-add per element, ascending t), in one pass over the vectors.
void qc_project_out_f64(const void *row, int format, const double *dirs, size_t ndirs, size_t n, double *products,
                        double *u);

/// 1 when the CPU supports AVX-512 (F, DQ, VL).
int qc_cpu_has_avx512(void);

#ifdef __cplusplus
}
#endif


#endif
