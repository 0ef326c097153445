// Throughput probes, one thread: fma (8 independent AVX-512 FMA chains, registers only) and a
// streaming sum over a buffer of the given KiB (L1 / L2 / L3 / DRAM resident).
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char** argv) {
  const char* which = argv[1];
  double t0 = now(); float sink = 0;
  if (!strcmp(which, "fma")) {
    __m512 a[8], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int j = 0; j < 8; j++) a[j] = _mm512_set1_ps(j);
    for (long i = 0; i < 200000000L; i++)
      for (int j = 0; j < 8; j++) a[j] = _mm512_fmadd_ps(a[j], m, c);
    for (int j = 0; j < 8; j++) sink += _mm512_reduce_add_ps(a[j]);
  } else {
    long kib = atol(which); long n = kib * 256; float* x = aligned_alloc(64, n * 4);
    for (long i = 0; i < n; i++) x[i] = 1e-3f * (i & 7);
    long reps = atol(argv[2]); __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (long r = 0; r < reps; r++)
      for (long i = 0; i < n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_load_ps(x + i)); s1 = _mm512_add_ps(s1, _mm512_load_ps(x + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_load_ps(x + i + 32)); s3 = _mm512_add_ps(s3, _mm512_load_ps(x + i + 48));
      }
    sink = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  }
  printf("%s %.3f s%s\n", which, now() - t0, sink == 12345.f ? "!" : "");
  return 0;
}
