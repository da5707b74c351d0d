/*
 * This core's arithmetic peaks and read bandwidths, for Benchmarks/roofline.py (x86-64).
 *
 *   peak [BYTES ...]
 *
 * Prints one "name value" line each:
 *   f32_macs_per_second    float32 multiply-adds per second: independent FMA chains on the widest
 *                          vectors the CPU has (AVX-512, else AVX2+FMA);
 *   int8_macs_per_second   int8 multiply-adds per second: independent vpdpbusd chains (AVX-512 VNNI),
 *                          or 0 where the CPU has no VNNI;
 *   read_bytes_per_second BYTES   the rate of reading a buffer of BYTES bytes again and again, as an
 *                          inference reads its weights: from L1, L2, L3 or memory depending on BYTES.
 * Each figure is the best of several timed repetitions, so a busy moment of a shared machine does not
 * lower it.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The best rate, in operations per second, of `ops` operations done by `run(count)` over several tries. */
static double best_rate(void (*run)(long), long count, double ops) {
    double best = 0;
    run(count / 10);
    for (int attempt = 0; attempt < 7; attempt++) {
        double start = seconds();
        run(count);
        double rate = ops / (seconds() - start);
        if (rate > best) best = rate;
    }
    return best;
}

static volatile float float_sink;
static volatile int int_sink;

/* Twelve independent accumulator chains (named variables, so that they stay in registers whatever the
 * optimization level) hide the multiply-add latency. */
#define TWELVE(step) step(0) step(1) step(2) step(3) step(4) step(5) step(6) step(7) step(8) step(9) step(10) step(11)

__attribute__((target("avx512f"))) static void fma512(long count) {
#define DECLARE(i) __m512 a##i = _mm512_set1_ps(i * 1e-3f);
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, x, y);
#define SUM(i) total = _mm512_add_ps(total, a##i);
    TWELVE(DECLARE)
    __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-4f), total = _mm512_setzero_ps();
    for (long n = 0; n < count; n++) { TWELVE(STEP) }
    TWELVE(SUM)
    float_sink = _mm512_reduce_add_ps(total);
#undef DECLARE
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma"))) static void fma256(long count) {
#define DECLARE(i) __m256 a##i = _mm256_set1_ps(i * 1e-3f);
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, x, y);
#define SUM(i) total = _mm256_add_ps(total, a##i);
    TWELVE(DECLARE)
    __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-4f), total = _mm256_setzero_ps();
    for (long n = 0; n < count; n++) { TWELVE(STEP) }
    TWELVE(SUM)
    float lanes[8];
    _mm256_storeu_ps(lanes, total);
    float_sink = lanes[0];
#undef DECLARE
#undef STEP
#undef SUM
}

__attribute__((target("avx512f,avx512vnni"))) static void vnni512(long count) {
#define DECLARE(i) __m512i a##i = _mm512_set1_epi32(i);
#define STEP(i) a##i = _mm512_dpbusd_epi32(a##i, x, w);
#define SUM(i) total = _mm512_add_epi32(total, a##i);
    TWELVE(DECLARE)
    __m512i x = _mm512_set1_epi32(0x01010101), w = _mm512_set1_epi32(0x01020304), total = _mm512_setzero_si512();
    for (long n = 0; n < count; n++) { TWELVE(STEP) }
    TWELVE(SUM)
    int_sink = _mm512_reduce_add_epi32(total);
#undef DECLARE
#undef STEP
#undef SUM
}

static const uint8_t *buffer;
static size_t buffer_bytes;

/* Sums the buffer in 32-byte words into eight accumulators (any x86-64 with AVX2); the empty asm keeps
 * the compiler from hoisting the reads out of the caller's loop. */
__attribute__((target("avx2"))) static void read_once(void) {
    const uint8_t *p = buffer;
    __asm__ volatile("" : "+r"(p) : : "memory");
#define EIGHT(step) step(0) step(1) step(2) step(3) step(4) step(5) step(6) step(7)
#define DECLARE(i) __m256i a##i = _mm256_setzero_si256();
#define STEP(i) a##i = _mm256_add_epi32(a##i, _mm256_load_si256((const __m256i *)(p + offset + 32 * i)));
#define SUM(i) total = _mm256_add_epi32(total, a##i);
    EIGHT(DECLARE)
    __m256i total = _mm256_setzero_si256();
    for (size_t offset = 0; offset + 256 <= buffer_bytes; offset += 256) { EIGHT(STEP) }
    EIGHT(SUM)
    int_sink = _mm256_extract_epi32(total, 0);
#undef DECLARE
#undef STEP
#undef SUM
}

static void read_many(long count) {
    for (long n = 0; n < count; n++) read_once();
}

int main(int argc, char **argv) {
    __builtin_cpu_init();
    long count = 20000000;
    if (__builtin_cpu_supports("avx512f"))
        printf("f32_macs_per_second %.6g\n", best_rate(fma512, count, 12.0 * 16 * count));
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("f32_macs_per_second %.6g\n", best_rate(fma256, count, 12.0 * 8 * count));
    else
        printf("f32_macs_per_second 0\n");
    if (__builtin_cpu_supports("avx512vnni"))
        printf("int8_macs_per_second %.6g\n", best_rate(vnni512, count, 12.0 * 64 * count));
    else
        printf("int8_macs_per_second 0\n");
    if (!__builtin_cpu_supports("avx2")) return argc > 1 ? 1 : 0;
    for (int i = 1; i < argc; i++) {
        size_t bytes = (strtoull(argv[i], NULL, 10) + 255) / 256 * 256;
        uint8_t *memory = aligned_alloc(64, bytes);
        if (memory == NULL) return 1;
        for (size_t j = 0; j < bytes; j++) memory[j] = (uint8_t)j;
        buffer = memory;
        buffer_bytes = bytes;
        /* About 200 MB read per timed try. */
        long repeats = (long)(2e8 / bytes) + 1;
        printf("read_bytes_per_second %s %.6g\n", argv[i], best_rate(read_many, repeats, (double)bytes * repeats));
        free(memory);
    }
    return 0;
}
