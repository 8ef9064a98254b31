/* LightGBM's own C predictor, timed: the peer of the native TypeScript evaluator in models.bench.ts.
 * usage: lightgbm_predict <lib_lightgbm.so> <model.txt> <rows.f64> <nrows> <ncols> <batch> <seconds> <reps> <out.f64>
 * Loads the library with dlopen, predicts every row once (written to out.f64 for the equality check),
 * then, reps times, predicts batches of `batch` rows (cycling through the rows, one thread) for at least
 * `seconds` and prints one JSON line per rep: {"rows":N,"seconds":S}. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*create_fn)(const char *, int *, void **);
typedef int (*predict_fn)(void *, const void *, int, int32_t, int32_t, int, int, int, int, const char *,
                          int64_t *, double *);
typedef const char *(*error_fn)(void);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr, "usage: %s lib model rows nrows ncols batch seconds reps out\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 3;
  }
  create_fn create = (create_fn)dlsym(lib, "LGBM_BoosterCreateFromModelfile");
  predict_fn predict = (predict_fn)dlsym(lib, "LGBM_BoosterPredictForMat");
  error_fn last_error = (error_fn)dlsym(lib, "LGBM_GetLastError");
  if (!create || !predict || !last_error) {
    fprintf(stderr, "missing LightGBM C API symbols\n");
    return 3;
  }
  int nrows = atoi(argv[4]), ncols = atoi(argv[5]), batch = atoi(argv[6]), reps = atoi(argv[8]);
  double seconds = atof(argv[7]);
  double *rows = malloc(sizeof(double) * (size_t)nrows * (size_t)ncols);
  double *out = malloc(sizeof(double) * (size_t)nrows);
  FILE *f = fopen(argv[3], "rb");
  if (!f || fread(rows, sizeof(double), (size_t)nrows * ncols, f) != (size_t)nrows * ncols) {
    fprintf(stderr, "cannot read %s\n", argv[3]);
    return 3;
  }
  fclose(f);
  void *booster = NULL;
  int iterations = 0;
  if (create(argv[2], &iterations, &booster) != 0) {
    fprintf(stderr, "LightGBM: %s\n", last_error());
    return 3;
  }
  /* C_API_DTYPE_FLOAT64 = 1, row-major, C_API_PREDICT_NORMAL = 0, all iterations, one thread */
  int64_t len = 0;
  if (predict(booster, rows, 1, nrows, ncols, 1, 0, 0, -1, "num_threads=1", &len, out) != 0) {
    fprintf(stderr, "LightGBM: %s\n", last_error());
    return 3;
  }
  f = fopen(argv[9], "wb");
  fwrite(out, sizeof(double), (size_t)nrows, f);
  fclose(f);
  for (int rep = 0; rep < reps; rep++) {
    long done = 0;
    int start = 0;
    double t0 = now(), t = t0;
    while (t - t0 < seconds) {
      for (int k = 0; k < 16; k++) {
        int n = batch;
        if (start + n > nrows) start = 0;
        predict(booster, rows + (size_t)start * ncols, 1, n, ncols, 1, 0, 0, -1, "num_threads=1", &len, out);
        start += n;
        done += n;
      }
      t = now();
    }
    printf("{\"rows\":%ld,\"seconds\":%.9f}\n", done, t - t0);
  }
  return 0;
}
