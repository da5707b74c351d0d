// Why Kiln's 2:4 kernel covers matrix-vector products and not convolutions, measured on this core:
// the same 2:4 pick (in-lane `vpermilps` of a group of four inputs, 2-bit selectors) against the dense
// loop, (1) in a convolution's register tile, where the dense kernel shares each weight load between
// rows and is bound by multiply-adds, and (2) in a one-row matrix-vector product, bound by its weight
// stream. Prints each as dense-equivalent multiply-adds per second and the 2:4/dense time ratio.
//
//   clang -O3 -march=x86-64-v4 Benchmarks/semistructured.c -o /tmp/semistructured && /tmp/semistructured
//
// On Zen 4 (2026-12-05): the tile runs 0.96-0.97x the dense time (the permute issues on the pipes the
// multiply-add needs), the matrix-vector products 0.45-0.52x (half the bytes).
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// (1) A tile of 8 rows (pixels) x 32 output channels over a reduction of 256, data in L1.
enum { TK = 256, TM = 8 };
float tileX[TM][TK] __attribute__((aligned(64)));
float tileW[TK][32] __attribute__((aligned(64)));
float tileKept[TK / 2][32] __attribute__((aligned(64)));
uint32_t tileSelectors[TK / 32 + 1][2][32] __attribute__((aligned(64)));
float tileOut[TM][32];

__attribute__((noinline)) static void tileDense(void) {
    __m512 a[TM][2];
    for (int m = 0; m < TM; m++) a[m][0] = a[m][1] = _mm512_setzero_ps();
    for (int k = 0; k < TK; k++) {
        __m512 w0 = _mm512_load_ps(tileW[k]), w1 = _mm512_load_ps(tileW[k] + 16);
        for (int m = 0; m < TM; m++) {
            __m512 x = _mm512_set1_ps(tileX[m][k]);
            a[m][0] = _mm512_fmadd_ps(w0, x, a[m][0]);
            a[m][1] = _mm512_fmadd_ps(w1, x, a[m][1]);
        }
    }
    for (int m = 0; m < TM; m++) _mm512_storeu_ps(tileOut[m], a[m][0]), _mm512_storeu_ps(tileOut[m] + 16, a[m][1]);
}

__attribute__((noinline)) static void tileSemiStructured(void) {
    __m512 a[TM][2];
    for (int m = 0; m < TM; m++) a[m][0] = a[m][1] = _mm512_setzero_ps();
    for (int g = 0; g < TK / 4; g++) {
        // Selectors shifted once per group and shared by every row of the tile.
        int shift = (g % 8) * 4;
        __m512i c00 = _mm512_srli_epi32(_mm512_load_si512(tileSelectors[g / 8][0]), shift);
        __m512i c01 = _mm512_srli_epi32(_mm512_load_si512(tileSelectors[g / 8][0] + 16), shift);
        __m512i c10 = _mm512_srli_epi32(_mm512_load_si512(tileSelectors[g / 8][1]), shift + 2);
        __m512i c11 = _mm512_srli_epi32(_mm512_load_si512(tileSelectors[g / 8][1] + 16), shift + 2);
        __m512 w00 = _mm512_load_ps(tileKept[2 * g]), w01 = _mm512_load_ps(tileKept[2 * g] + 16);
        __m512 w10 = _mm512_load_ps(tileKept[2 * g + 1]), w11 = _mm512_load_ps(tileKept[2 * g + 1] + 16);
        for (int m = 0; m < TM; m++) {
            __m512 x4 = _mm512_broadcast_f32x4(_mm_loadu_ps(&tileX[m][4 * g]));
            a[m][0] = _mm512_fmadd_ps(w00, _mm512_permutevar_ps(x4, c00), a[m][0]);
            a[m][1] = _mm512_fmadd_ps(w01, _mm512_permutevar_ps(x4, c01), a[m][1]);
            a[m][0] = _mm512_fmadd_ps(w10, _mm512_permutevar_ps(x4, c10), a[m][0]);
            a[m][1] = _mm512_fmadd_ps(w11, _mm512_permutevar_ps(x4, c11), a[m][1]);
        }
    }
    for (int m = 0; m < TM; m++) _mm512_storeu_ps(tileOut[m], a[m][0]), _mm512_storeu_ps(tileOut[m] + 16, a[m][1]);
}

// (2) One row through `layers` layers of depth x 128 (the weights of all layers streamed in turn).
enum { GO = 128, GMaxLayers = 4 };
float gemvX[1024] __attribute__((aligned(64)));
float *dense[GMaxLayers], *kept[GMaxLayers];
uint32_t *selectors[GMaxLayers];
float gemvOut[GO];

__attribute__((noinline)) static void gemvDense(int layer, int depth) {
    const float *w = dense[layer];
    for (int s = 0; s < GO / 16; s += 2) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
        for (int k = 0; k < depth; k += 2, w += 64) {
            __m512 x = _mm512_set1_ps(gemvX[k]), y = _mm512_set1_ps(gemvX[k + 1]);
            a0 = _mm512_fmadd_ps(_mm512_load_ps(w), x, a0);
            a1 = _mm512_fmadd_ps(_mm512_load_ps(w + 16), x, a1);
            b0 = _mm512_fmadd_ps(_mm512_load_ps(w + 32), y, b0);
            b1 = _mm512_fmadd_ps(_mm512_load_ps(w + 48), y, b1);
        }
        _mm512_storeu_ps(gemvOut + 16 * s, _mm512_add_ps(a0, b0));
        _mm512_storeu_ps(gemvOut + 16 * s + 16, _mm512_add_ps(a1, b1));
    }
}

__attribute__((noinline)) static void gemvSemiStructured(int layer, int depth) {
    const float *w = kept[layer];
    const uint32_t *c = selectors[layer];
    for (int s = 0; s < GO / 16; s++) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        for (int g = 0; g < depth / 4; g += 8, c += 16) {
            __m512i word = _mm512_load_si512(c);
            for (int j = 0; j < 8; j++, w += 32) {
                __m512 x4 = _mm512_broadcast_f32x4(_mm_load_ps(&gemvX[4 * (g + j)]));
                __m512i first = _mm512_srli_epi32(word, 4 * j), second = _mm512_srli_epi32(word, 4 * j + 2);
                a0 = _mm512_fmadd_ps(_mm512_load_ps(w), _mm512_permutevar_ps(x4, first), a0);
                a1 = _mm512_fmadd_ps(_mm512_load_ps(w + 16), _mm512_permutevar_ps(x4, second), a1);
            }
        }
        _mm512_storeu_ps(gemvOut + 16 * s, _mm512_add_ps(a0, a1));
    }
}

static float uniform(void) { return rand() / (float)RAND_MAX; }

// Keeps the compiler from folding repeated calls: each may see memory it has not.
#define BARRIER() __asm__ volatile("" ::: "memory")

int main(void) {
    for (int m = 0; m < TM; m++)
        for (int k = 0; k < TK; k++) tileX[m][k] = uniform();
    for (int k = 0; k < TK; k++)
        for (int j = 0; j < 32; j++) tileW[k][j] = uniform();
    for (int k = 0; k < TK / 2; k++)
        for (int j = 0; j < 32; j++) tileKept[k][j] = uniform();
    for (int i = 0; i < TK / 32 + 1; i++)
        for (int j = 0; j < 64; j++) tileSelectors[i][j / 32][j % 32] = rand();
    double best[2] = {1e9, 1e9};
    int runs = 200000;
    for (int round = 0; round < 5; round++) {
        double t = now();
        for (int i = 0; i < runs; i++) { tileDense(); BARRIER(); }
        if ((t = now() - t) < best[0]) best[0] = t;
        t = now();
        for (int i = 0; i < runs; i++) { tileSemiStructured(); BARRIER(); }
        if ((t = now() - t) < best[1]) best[1] = t;
    }
    double macs = (double)TM * TK * 32 * runs;
    printf("conv tile 8x32, reduction %d: dense %.1f G/s, 2:4 %.1f G/s dense-equivalent, 2:4/dense %.2f\n", TK,
           macs / best[0] / 1e9, macs / best[1] / 1e9, best[1] / best[0]);

    for (int k = 0; k < 1024; k++) gemvX[k] = uniform();
    const int shapes[][2] = {{1, 128}, {1, 512}, {4, 512}};
    for (int l = 0; l < GMaxLayers; l++) {
        dense[l] = aligned_alloc(64, 1024 * GO * 4);
        kept[l] = aligned_alloc(64, 1024 * GO * 2);
        selectors[l] = aligned_alloc(64, 1024 * GO / 8);
        for (int i = 0; i < 1024 * GO; i++) dense[l][i] = uniform();
        for (int i = 0; i < 1024 * GO / 2; i++) kept[l][i] = uniform();
        for (int i = 0; i < 1024 * GO / 32; i++) selectors[l][i] = rand();
    }
    for (int shape = 0; shape < 3; shape++) {
        int layers = shapes[shape][0], depth = shapes[shape][1];
        int count = 20000;
        best[0] = best[1] = 1e9;
        for (int round = 0; round < 7; round++) {
            double t = now();
            for (int i = 0; i < count; i++)
                for (int l = 0; l < layers; l++) { gemvDense(l, depth); BARRIER(); }
            if ((t = now() - t) < best[0]) best[0] = t;
            t = now();
            for (int i = 0; i < count; i++)
                for (int l = 0; l < layers; l++) { gemvSemiStructured(l, depth); BARRIER(); }
            if ((t = now() - t) < best[1]) best[1] = t;
        }
        printf("matrix-vector, %d layer(s) %dx%d (%d KB dense): dense %.2f us, 2:4 %.2f us, 2:4/dense %.2f\n", layers,
               depth, GO, layers * depth * GO * 4 / 1024, best[0] / count * 1e6, best[1] / count * 1e6,
               best[1] / best[0]);
    }
    return 0;
}
