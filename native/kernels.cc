// rlcp's native elementwise and row kernels (N-API addon, built by `npm ci` through node-gyp).
//
// GEMM runs on onnxruntime; everything between GEMMs (SwiGLU, RMSNorm, RoPE, softmax rows, AdamW,
// gradient accumulation, permutes) used to be TypeScript loops on one thread, 70 % of a small model's
// training step. These are the same loops in C++, vectorised and split over a small thread pool.
//
// Every kernel computes exactly what its TypeScript reference in src/tensor/kernels/reference.ts
// computes, bit for bit: JavaScript evaluates arithmetic in float64 and rounds only when it stores into
// a Float32Array, so these kernels do the same (doubles everywhere, a float cast exactly where the
// reference stores), never contract a*b+c into an FMA (-ffp-contract=off) and never reorder a sum
// (threads split rows or elements, never one row's reduction). A model trained before the native
// kernels existed is reproduced byte for byte.
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

namespace {

// ---- thread pool ----
//
// parallel_for splits [0, n) into one contiguous range per thread; the calling thread takes the first.
// Work below `grain` items per thread runs inline: waking a sleeping thread costs ~10–50 µs. The pool is
// one per process; calls from several JavaScript threads (worker_threads) take turns.
class ThreadPool {
 public:
  ~ThreadPool() { resize(1); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int threads) {
    std::lock_guard<std::mutex> turn(callers_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_++;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_ = false;
    for (int i = 1; i < threads; i++) workers_.emplace_back([this, i] { loop(i); });
  }

  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    std::lock_guard<std::mutex> turn(callers_);
    const int64_t useful = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
    const int threads = static_cast<int>(std::min<int64_t>(size(), useful));
    if (threads <= 1) {
      fn(0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &fn;
      n_ = n;
      threads_ = threads;
      pending_.store(threads - 1);
      generation_++;
    }
    wake_.notify_all();
    fn(0, split(1, threads));
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_.load() == 0; });
    job_ = nullptr;
  }

 private:
  int64_t split(int part, int parts) const { return n_ * part / parts; }

  void loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int64_t, int64_t)>* job;
      int threads;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        job = job_;
        threads = threads_;
      }
      if (job == nullptr || index >= threads) continue;
      (*job)(split(index, threads), split(index + 1, threads));
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex callers_;  // one parallel_for or resize at a time
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0;
  int threads_ = 1;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::atomic<int> pending_{0};
};

ThreadPool pool;

// Elements per thread below which an elementwise kernel stays on one thread.
constexpr int64_t kGrain = 32768;

inline int64_t rowGrain(int64_t cols) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, cols)); }

// ---- math shared with the TypeScript references ----

constexpr double kLog2e = 1.4426950408889634;
// Adding then subtracting 1.5 * 2^52 rounds a double to the nearest integer; the integer also sits in
// the low bits of the sum, which builds 2^k without a table (the reference's POW2[k + 127] is exact).
constexpr double kRoundMagic = 6755399441055744.0;

/** src/tensor/kernels/rows.ts fastExp, operation for operation. */
inline double fastExp(double x) {
  double t = x * kLog2e;
  t = t < -126 ? -126 : t;
  t = t > 127 ? 127 : t;
  const double shifted = t + kRoundMagic;
  const double k = shifted - kRoundMagic;
  int64_t kInt;
  std::memcpy(&kInt, &shifted, sizeof kInt);
  const double f = t - k;
  const double p =
      1 + f * (0.6931471805599453 +
               f * (0.2402265069591007 +
                    f * (0.05550410866482158 +
                         f * (0.009618129107628477 + f * (0.0013333558146428443 + f * 0.00015403530393381606)))));
  // The low 32 bits of kInt are k in two's complement; 2^k has biased exponent k + 1023.
  const int64_t bits = (static_cast<int64_t>(static_cast<int32_t>(kInt)) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// Exponentials first (a vectorised loop), then their sum in index order like the reference: a sum
// whose order changed would round differently.
inline const double* expTerms(const float* src, int64_t n, double shift) {
  thread_local std::vector<double> terms;
  if (static_cast<int64_t>(terms.size()) < n) terms.resize(n);
  double* e = terms.data();
  for (int64_t i = 0; i < n; i++) e[i] = fastExp(src[i] - shift);
  return e;
}

inline double sumInOrder(const double* e, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += e[i];
  return sum;
}

/** rows.ts expShifted: dst[i] = exp(src[i] − shift) (dst may be src), returns the float64 sum of the unrounded terms. */
inline double expShifted(const float* src, int64_t n, double shift, float* dst) {
  const double* e = expTerms(src, n, shift);
  for (int64_t i = 0; i < n; i++) dst[i] = static_cast<float>(e[i]);
  return sumInOrder(e, n);
}

inline double sumExpShifted(const float* src, int64_t n, double shift) {
  return sumInOrder(expTerms(src, n, shift), n);
}

inline double rowMax(const float* src, int64_t n) {
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; i++)
    if (src[i] > max) max = src[i];
  return max;
}

/**
 * out[r] = Σ_j term(r, j) over j = 0..cols-1 in index order, for rows [begin, end). One float64 sum is
 * a chain of dependent additions (4 cycles each); four rows' chains interleaved overlap in the CPU and
 * still add each row's terms in the reference's order.
 */
template <typename Term>
void orderedRowSums(int64_t begin, int64_t end, int64_t cols, Term term, double* out) {
  int64_t r = begin;
  for (; r + 4 <= end; r += 4) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t j = 0; j < cols; j++) {
      s0 += term(r, j);
      s1 += term(r + 1, j);
      s2 += term(r + 2, j);
      s3 += term(r + 3, j);
    }
    out[r - begin] = s0;
    out[r - begin + 1] = s1;
    out[r - begin + 2] = s2;
    out[r - begin + 3] = s3;
  }
  for (; r < end; r++) {
    double s = 0;
    for (int64_t j = 0; j < cols; j++) s += term(r, j);
    out[r - begin] = s;
  }
}

/** Per-thread scratch for orderedRowSums' results. */
inline double* rowScratch(int64_t rows) {
  thread_local std::vector<double> scratch;
  if (static_cast<int64_t>(scratch.size()) < rows) scratch.resize(rows);
  return scratch.data();
}

// ---- N-API argument helpers ----

/** The data of a typed array of type `want` and its length; length −1 when `value` is not one. */
void* typedArrayData(napi_env env, napi_value value, napi_typedarray_type want, int64_t* length) {
  *length = -1;
  bool isTyped = false;
  napi_is_typedarray(env, value, &isTyped);
  if (!isTyped) return nullptr;
  napi_typedarray_type type;
  size_t n = 0;
  void* data = nullptr;
  napi_get_typedarray_info(env, value, &type, &n, &data, nullptr, nullptr);
  if (type != want) return nullptr;
  *length = static_cast<int64_t>(n);
  return data;
}

struct Args {
  napi_env env;
  std::vector<napi_value> v;
  bool failed = false;

  Args(napi_env e, napi_callback_info info, size_t count) : env(e), v(count) {
    size_t argc = count;
    napi_get_cb_info(env, info, &argc, v.data(), nullptr, nullptr);
    if (argc < count) fail("expected more arguments");
  }

  void fail(const char* message) {
    if (!failed) napi_throw_type_error(env, nullptr, message);
    failed = true;
  }

  /** Throws `message` unless `ok`; returns whether the call may go on. */
  bool check(bool ok, const char* message) {
    if (!ok) fail(message);
    return !failed;
  }

  bool isNull(size_t i) {
    napi_valuetype type;
    napi_typeof(env, v[i], &type);
    return type == napi_null || type == napi_undefined;
  }

  template <typename T>
  T* typed(size_t i, napi_typedarray_type want, int64_t* length, const char* message) {
    int64_t n = -1;
    void* data = typedArrayData(env, v[i], want, &n);
    if (n < 0) {
      fail(message);
      return nullptr;
    }
    if (length) *length = n;
    return static_cast<T*>(data);
  }

  float* f32(size_t i, int64_t* length = nullptr) {
    return typed<float>(i, napi_float32_array, length, "expected a Float32Array");
  }
  float* f32OrNull(size_t i, int64_t* length = nullptr) { return isNull(i) ? nullptr : f32(i, length); }
  double* f64(size_t i, int64_t* length = nullptr) {
    return typed<double>(i, napi_float64_array, length, "expected a Float64Array");
  }
  int32_t* i32(size_t i, int64_t* length = nullptr) {
    return typed<int32_t>(i, napi_int32_array, length, "expected an Int32Array");
  }
  uint8_t* u8OrNull(size_t i, int64_t* length = nullptr) {
    return isNull(i) ? nullptr : typed<uint8_t>(i, napi_uint8_array, length, "expected a Uint8Array");
  }
  double num(size_t i) {
    double x = 0;
    if (napi_get_value_double(env, v[i], &x) != napi_ok) fail("expected a number");
    return x;
  }
  int64_t int64(size_t i) {
    int64_t x = 0;
    if (napi_get_value_int64(env, v[i], &x) != napi_ok) fail("expected an integer");
    return x;
  }
  bool flag(size_t i) {
    bool x = false;
    if (napi_get_value_bool(env, v[i], &x) != napi_ok) fail("expected a boolean");
    return x;
  }
};

napi_value undefinedValue(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---- kernels ----

// setThreads(n)
napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  const int64_t n = a.int64(0);
  if (a.failed) return nullptr;
  if (n < 1 || n > 256) {
    a.fail("setThreads: expected 1..256 threads");
    return nullptr;
  }
  if (n != pool.size()) pool.resize(static_cast<int>(n));
  return undefinedValue(env);
}

// swigluForward(gate, up, out): out = silu(gate) · up
napi_value SwigluForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  int64_t n = 0;
  int64_t upN = 0, outN = 0;
  const float* gate = a.f32(0, &n);
  const float* up = a.f32(1, &upN);
  float* out = a.f32(2, &outN);
  if (a.failed || !a.check(upN == n && outN == n, "swigluForward: lengths differ")) return nullptr;
  pool.parallel_for(n, kGrain, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const double x = gate[i];
      out[i] = static_cast<float>((x / (1 + fastExp(-x))) * up[i]);
    }
  });
  return undefinedValue(env);
}

// One loop per combination of outputs: a branch inside would stop the loop from vectorising.
template <bool WithGate, bool WithUp>
void swigluBackwardRange(const float* g, const float* gate, const float* up, float* gGate, float* gUp,
                         int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i++) {
    const double x = gate[i];
    const double s = 1 / (1 + fastExp(-x));
    if (WithGate) gGate[i] = static_cast<float>(static_cast<double>(g[i]) * up[i] * s * (1 + x * (1 - s)));
    if (WithUp) gUp[i] = static_cast<float>(static_cast<double>(g[i]) * x * s);
  }
}

// swigluBackward(grad, gate, up, gGate | null, gUp | null)
napi_value SwigluBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  int64_t n = 0;
  int64_t gateN = 0, upN = 0, gGateN = n, gUpN = n;
  const float* g = a.f32(0, &n);
  const float* gate = a.f32(1, &gateN);
  const float* up = a.f32(2, &upN);
  float* gGate = a.f32OrNull(3, &gGateN);
  float* gUp = a.f32OrNull(4, &gUpN);
  if (a.failed) return nullptr;
  if (!gGate) gGateN = n;
  if (!gUp) gUpN = n;
  if (!a.check(gateN == n && upN == n && gGateN == n && gUpN == n, "swigluBackward: lengths differ")) return nullptr;
  pool.parallel_for(n, kGrain, [=](int64_t begin, int64_t end) {
    if (gGate && gUp) swigluBackwardRange<true, true>(g, gate, up, gGate, gUp, begin, end);
    else if (gGate) swigluBackwardRange<true, false>(g, gate, up, gGate, gUp, begin, end);
    else if (gUp) swigluBackwardRange<false, true>(g, gate, up, gGate, gUp, begin, end);
  });
  return undefinedValue(env);
}

// rmsNormForward(x, weight, out, invRms, eps): rows of weight.length
napi_value RmsNormForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  int64_t n = 0, dim = 0;
  int64_t yN = 0, invN = 0;
  const float* x = a.f32(0, &n);
  const float* w = a.f32(1, &dim);
  float* y = a.f32(2, &yN);
  float* invRms = a.f32(3, &invN);
  const double eps = a.num(4);
  if (a.failed || !a.check(dim > 0 && n % dim == 0 && yN == n && invN == n / dim, "rmsNormForward: shapes differ"))
    return nullptr;
  pool.parallel_for(n / dim, rowGrain(dim), [=](int64_t begin, int64_t end) {
    double* sums = rowScratch(end - begin);
    orderedRowSums(begin, end, dim, [=](int64_t r, int64_t j) { return static_cast<double>(x[r * dim + j]) * x[r * dim + j]; }, sums);
    for (int64_t r = begin; r < end; r++) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      const double ss = sums[r - begin];
      const double inv = 1 / std::sqrt(ss / dim + eps);
      invRms[r] = static_cast<float>(inv);
      for (int64_t j = 0; j < dim; j++) yr[j] = static_cast<float>(static_cast<double>(static_cast<float>(xr[j] * inv)) * w[j]);
    }
  });
  return undefinedValue(env);
}

// rmsNormBackward(grad, x, weight, invRms, gx | null, gw | null): gw accumulates (+=)
napi_value RmsNormBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 6);
  int64_t n = 0, dim = 0;
  int64_t xN = 0, invN = 0, gxN = 0, gwN = 0;
  const float* g = a.f32(0, &n);
  const float* x = a.f32(1, &xN);
  const float* w = a.f32(2, &dim);
  const float* invRms = a.f32(3, &invN);
  float* gx = a.f32OrNull(4, &gxN);
  float* gw = a.f32OrNull(5, &gwN);
  if (a.failed) return nullptr;
  const bool fits = dim > 0 && n % dim == 0 && xN == n && invN == n / dim && (!gx || gxN == n) && (!gw || gwN == dim);
  if (!a.check(fits, "rmsNormBackward: shapes differ")) return nullptr;
  const int64_t rows = n / dim;
  if (gx) {
    pool.parallel_for(rows, rowGrain(dim), [=](int64_t begin, int64_t end) {
      double* dots = rowScratch(end - begin);
      orderedRowSums(
          begin, end, dim,
          [=](int64_t r, int64_t j) {
            return static_cast<double>(g[r * dim + j]) * w[j] * (x[r * dim + j] * static_cast<double>(invRms[r]));
          },
          dots);
      for (int64_t r = begin; r < end; r++) {
        const int64_t base = r * dim;
        const double inv = invRms[r];
        const double m = dots[r - begin] / dim;
        for (int64_t j = 0; j < dim; j++) {
          gx[base + j] = static_cast<float>(inv * (static_cast<double>(g[base + j]) * w[j] - x[base + j] * inv * m));
        }
      }
    });
  }
  if (gw) {
    // Rows in order (the reference accumulates row by row, rounding each time); columns in parallel.
    pool.parallel_for(dim, 64, [=](int64_t begin, int64_t end) {
      for (int64_t r = 0; r < rows; r++) {
        const int64_t base = r * dim;
        const double inv = invRms[r];
        for (int64_t j = begin; j < end; j++) {
          gw[j] = static_cast<float>(gw[j] + static_cast<double>(g[base + j]) * (x[base + j] * inv));
        }
      }
    });
  }
  return undefinedValue(env);
}

// ropeRotate(src, dst, cos, sin, batch, heads, seq, half, sign, srcTokenMajor, dstTokenMajor): src and dst
// [B, H, T, 2·half], or [B, T, H, 2·half] where tokenMajor (a permute fused in); tables [B·T, half]
napi_value RopeRotate(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  int64_t n = 0, dstN = 0, cosN = 0, sinN = 0;
  const float* src = a.f32(0, &n);
  float* dst = a.f32(1, &dstN);
  const float* cosT = a.f32(2, &cosN);
  const float* sinT = a.f32(3, &sinN);
  const int64_t batch = a.int64(4), heads = a.int64(5), seq = a.int64(6), half = a.int64(7);
  const double sign = a.num(8);
  const bool srcTokenMajor = a.flag(9), dstTokenMajor = a.flag(10);
  if (a.failed) return nullptr;
  const int64_t headDim = 2 * half;
  const bool fits = n == batch * heads * seq * headDim && dstN == n && cosN == batch * seq * half && sinN == cosN;
  if (!a.check(fits, "ropeRotate: shapes differ")) return nullptr;
  pool.parallel_for(batch * heads * seq, rowGrain(headDim), [=](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; row++) {
      const int64_t t = row % seq;
      const int64_t h = (row / seq) % heads;
      const int64_t b = row / (heads * seq);
      const int64_t headMajor = row * headDim;
      const int64_t tokenMajor = ((b * seq + t) * heads + h) * headDim;
      const float* in = src + (srcTokenMajor ? tokenMajor : headMajor);
      float* out = dst + (dstTokenMajor ? tokenMajor : headMajor);
      const int64_t table = (b * seq + t) * half;
      for (int64_t i = 0; i < half; i++) {
        const double c = cosT[table + i];
        const double s = sign * sinT[table + i];
        const double x1 = in[i];
        const double x2 = in[half + i];
        out[i] = static_cast<float>(x1 * c - x2 * s);
        out[half + i] = static_cast<float>(x2 * c + x1 * s);
      }
    }
  });
  return undefinedValue(env);
}

enum BinaryKind { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

inline float applyBinary(int kind, float x, float y) {
  // float32 arithmetic equals the reference's float64 arithmetic rounded to float32 for + − × ÷.
  switch (kind) {
    case kAdd:
      return x + y;
    case kSub:
      return x - y;
    case kMul:
      return x * y;
    default:
      return x / y;
  }
}

template <int Kind>
void binarySpan(const float* x, const float* y, float* out, int64_t count) {
  for (int64_t i = 0; i < count; i++) out[i] = applyBinary(Kind, x[i], y[i]);
}

// Full-size b: elements split over threads. One row of b: rows split, each row against b.
template <int Kind>
void binaryAll(const float* x, const float* y, float* out, int64_t n, int64_t bn) {
  if (bn == n) {
    pool.parallel_for(n, kGrain, [=](int64_t begin, int64_t end) {
      binarySpan<Kind>(x + begin, y + begin, out + begin, end - begin);
    });
  } else {
    pool.parallel_for(n / bn, rowGrain(bn), [=](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) binarySpan<Kind>(x + r * bn, y, out + r * bn, bn);
    });
  }
}

// binary(kind, a, b, out): a and out full size; b full size or one row repeated (b.length divides a.length)
napi_value Binary(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  const int64_t kind = a.int64(0);
  int64_t n = 0, bn = 0;
  int64_t outN = 0;
  const float* x = a.f32(1, &n);
  const float* y = a.f32(2, &bn);
  float* out = a.f32(3, &outN);
  if (a.failed) return nullptr;
  if (n == 0 && outN == 0) return undefinedValue(env);
  if (kind < kAdd || kind > kDiv || bn == 0 || n % bn != 0 || outN != n) {
    a.fail("binary: bad kind or shapes");
    return nullptr;
  }
  switch (kind) {
    case kAdd: binaryAll<kAdd>(x, y, out, n, bn); break;
    case kSub: binaryAll<kSub>(x, y, out, n, bn); break;
    case kMul: binaryAll<kMul>(x, y, out, n, bn); break;
    default: binaryAll<kDiv>(x, y, out, n, bn); break;
  }
  return undefinedValue(env);
}

// scaleInto(dst, src, s): dst = src · s (float64 product rounded once)
napi_value ScaleInto(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  int64_t n = 0, sn = 0;
  float* dst = a.f32(0, &n);
  const float* src = a.f32(1, &sn);
  const double s = a.num(2);
  if (a.failed) return nullptr;
  if (sn != n) {
    a.fail("scaleInto: lengths differ");
    return nullptr;
  }
  pool.parallel_for(n, kGrain, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) dst[i] = static_cast<float>(src[i] * s);
  });
  return undefinedValue(env);
}

// sumRowsInto(dst, src): dst[j] += Σ_r src[r·cols + j], rows in order, cols = dst.length
napi_value SumRowsInto(napi_env env, napi_callback_info info) {
  Args a(env, info, 2);
  int64_t cols = 0, n = 0;
  float* dst = a.f32(0, &cols);
  const float* src = a.f32(1, &n);
  if (a.failed) return nullptr;
  if (cols == 0 && n == 0) return undefinedValue(env);
  if (cols == 0 || n % cols != 0) {
    a.fail("sumRowsInto: source is not whole rows");
    return nullptr;
  }
  const int64_t rows = n / cols;
  pool.parallel_for(cols, 256, [=](int64_t begin, int64_t end) {
    for (int64_t r = 0; r < rows; r++) {
      const float* sr = src + r * cols;
      for (int64_t j = begin; j < end; j++) dst[j] += sr[j];
    }
  });
  return undefinedValue(env);
}

// scaleRows(dst, src, scales): row r of dst = row r of src · scales[r] (Float64Array; dst may be src)
napi_value ScaleRows(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  int64_t n = 0, srcN = 0, rows = 0;
  float* dst = a.f32(0, &n);
  const float* src = a.f32(1, &srcN);
  const double* scales = a.f64(2, &rows);
  if (a.failed || !a.check(srcN == n && rows > 0 && n % rows == 0, "scaleRows: shapes differ")) return nullptr;
  const int64_t cols = n / rows;
  pool.parallel_for(rows, rowGrain(cols), [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const double s = scales[r];
      for (int64_t j = r * cols; j < (r + 1) * cols; j++) dst[j] = static_cast<float>(src[j] * s);
    }
  });
  return undefinedValue(env);
}

// lowRankAdd(y, u, m, rank, alpha, bias | null, mTransposed): y[i, j] = (y[i, j] + bias[j]) + alpha ·
// Σ_k u[i, k] · M[k, j] (Σ in k order), u [rows, rank], M [rank, cols] — or stored as [cols, rank] with
// mTransposed (LoRA's B). LoRA's low-rank term in one pass over y: as a GEMM with k = rank it wrote a
// [rows, cols] temporary that a second pass then added.
napi_value LowRankAdd(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  int64_t n = 0, uN = 0, mN = 0, biasN = 0;
  float* y = a.f32(0, &n);
  const float* u = a.f32(1, &uN);
  const float* m = a.f32(2, &mN);
  const int64_t rank = a.int64(3);
  const float alpha = static_cast<float>(a.num(4));
  const float* bias = a.f32OrNull(5, &biasN);
  const bool transposed = a.flag(6);
  if (a.failed) return nullptr;
  const int64_t rows = rank > 0 ? uN / rank : 0;
  const int64_t cols = rank > 0 ? mN / rank : 0;
  const bool fits = cols > 0 && rows * rank == uN && cols * rank == mN && rows * cols == n &&
                    (!bias || biasN == cols);
  if (!a.check(fits, "lowRankAdd: shapes differ")) return nullptr;
  std::vector<float> mt;
  const float* mk = m;
  if (transposed) {
    mt.resize(mN);
    for (int64_t j = 0; j < cols; j++)
      for (int64_t k = 0; k < rank; k++) mt[k * cols + j] = m[j * rank + k];
    mk = mt.data();
  }
  constexpr int64_t kBlock = 64;
  pool.parallel_for(rows, rowGrain(cols * rank), [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      float* yr = y + i * cols;
      const float* ur = u + i * rank;
      for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
        const int64_t w = std::min(kBlock, cols - j0);
        float acc[kBlock];
        const float u0 = ur[0];
        for (int64_t j = 0; j < w; j++) acc[j] = u0 * mk[j0 + j];
        for (int64_t k = 1; k < rank; k++) {
          const float uk = ur[k];
          const float* row = mk + k * cols + j0;
          for (int64_t j = 0; j < w; j++) acc[j] += uk * row[j];
        }
        if (bias)
          for (int64_t j = 0; j < w; j++) yr[j0 + j] = (yr[j0 + j] + bias[j0 + j]) + alpha * acc[j];
        else
          for (int64_t j = 0; j < w; j++) yr[j0 + j] += alpha * acc[j];
      }
    }
  });
  return undefinedValue(env);
}

// Row indices are checked by the caller's kernel entry: each must be `skip` or inside the table.
bool rowsInRange(const int32_t* index, int64_t count, int64_t skip, int64_t tableRows) {
  for (int64_t r = 0; r < count; r++)
    if (index[r] != skip && (index[r] < 0 || index[r] >= tableRows)) return false;
  return true;
}

// gatherRows(dst, table, index, cols): dst row r = table row index[r]
napi_value GatherRows(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  int64_t n = 0, tableN = 0, count = 0;
  float* dst = a.f32(0, &n);
  const float* table = a.f32(1, &tableN);
  const int32_t* index = a.i32(2, &count);
  const int64_t cols = a.int64(3);
  if (a.failed) return nullptr;
  if (count == 0 || n == 0) return undefinedValue(env);
  const bool fits = cols > 0 && n == count * cols && tableN % cols == 0 && rowsInRange(index, count, -1, tableN / cols);
  if (!a.check(fits, "gatherRows: shapes or indices out of range")) return nullptr;
  pool.parallel_for(count, rowGrain(cols), [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) std::memcpy(dst + r * cols, table + index[r] * cols, cols * sizeof(float));
  });
  return undefinedValue(env);
}

// addGatheredRows(dst, table, index, skip, alpha): dst row r += alpha · table row index[r].
// scatterAddRows(dst, src, index, skip, alpha): dst row index[r] += alpha · src row r, rows in order
// (repeated indices accumulate in the reference's order), so its threads split columns, not rows.
// Both leave rows whose index is `skip` alone.
template <bool Scatter>
napi_value AddIndexedRows(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  int64_t n = 0, otherN = 0, count = 0;
  float* dst = a.f32(0, &n);
  const float* other = a.f32(1, &otherN);
  const int32_t* index = a.i32(2, &count);
  const int64_t skip = a.int64(3);
  const double alpha = a.num(4);
  if (a.failed) return nullptr;
  const int64_t denseN = Scatter ? otherN : n;  // one row per index
  const int64_t indexedN = Scatter ? n : otherN;  // rows addressed by the indices
  if (count == 0 || denseN == 0) return undefinedValue(env);
  const int64_t cols = denseN / count;
  const bool fits = cols > 0 && denseN == count * cols && indexedN % cols == 0 &&
                    rowsInRange(index, count, skip, indexedN / cols);
  if (!a.check(fits, Scatter ? "scatterAddRows: shapes or indices out of range"
                             : "addGatheredRows: shapes or indices out of range"))
    return nullptr;
  if (Scatter) {
    pool.parallel_for(cols, std::max<int64_t>(16, kGrain / count), [=](int64_t begin, int64_t end) {
      for (int64_t r = 0; r < count; r++) {
        if (index[r] == skip) continue;
        float* d = dst + index[r] * cols;
        const float* s = other + r * cols;
        for (int64_t j = begin; j < end; j++) d[j] = static_cast<float>(d[j] + alpha * s[j]);
      }
    });
  } else {
    pool.parallel_for(count, rowGrain(cols), [=](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        if (index[r] == skip) continue;
        float* d = dst + r * cols;
        const float* t = other + index[r] * cols;
        for (int64_t j = 0; j < cols; j++) d[j] = static_cast<float>(d[j] + alpha * t[j]);
      }
    });
  }
  return undefinedValue(env);
}

// sumSquaresEach(arrays, out): out[i] = Σ arrays[i]², each a float64 sum in index order
napi_value SumSquaresEach(napi_env env, napi_callback_info info) {
  Args a(env, info, 2);
  int64_t count = 0;
  double* out = a.f64(1, &count);
  if (a.failed) return nullptr;
  uint32_t arrays = 0;
  napi_get_array_length(env, a.v[0], &arrays);
  if (!a.check(arrays == count, "sumSquaresEach: one output per array")) return nullptr;
  std::vector<const float*> data(arrays);
  std::vector<int64_t> starts(arrays + 1, 0);  // element offsets, to split the work by size
  for (uint32_t i = 0; i < arrays; i++) {
    napi_value value;
    napi_get_element(env, a.v[0], i, &value);
    int64_t length = 0;
    data[i] = static_cast<const float*>(typedArrayData(env, value, napi_float32_array, &length));
    if (!a.check(data[i] != nullptr || length == 0, "sumSquaresEach: expected Float32Arrays")) return nullptr;
    starts[i + 1] = starts[i] + length;
  }
  // Each array is one float64 sum in index order, on the thread whose share holds its first element.
  pool.parallel_for(starts[arrays], kGrain, [&](int64_t begin, int64_t end) {
    for (uint32_t i = 0; i < arrays; i++) {
      if (starts[i] < begin || starts[i] >= end) continue;
      const float* x = data[i];
      double s = 0;
      for (int64_t j = 0; j < starts[i + 1] - starts[i]; j++) s += static_cast<double>(x[j]) * x[j];
      out[i] = s;
    }
  });
  for (uint32_t i = 0; i < arrays; i++)
    if (starts[i] == starts[i + 1]) out[i] = 0;  // an empty array at the very end belongs to no share
  return undefinedValue(env);
}

// attentionProbs(scores, batch, qHeads, seq, keys, causal, queryOffset, keyMask | null): softmax in place
napi_value AttentionProbs(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  int64_t n = 0, maskN = 0;
  float* scores = a.f32(0, &n);
  const int64_t batch = a.int64(1), qHeads = a.int64(2), seq = a.int64(3), keys = a.int64(4);
  const bool causal = a.flag(5);
  const int64_t offset = a.int64(6);
  const uint8_t* mask = a.u8OrNull(7, &maskN);
  if (a.failed) return nullptr;
  const bool fits = n == batch * qHeads * seq * keys && (!mask || maskN == batch * keys);
  if (!a.check(fits, "attentionProbs: shapes differ")) return nullptr;
  pool.parallel_for(batch * qHeads * seq, rowGrain(keys), [=](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; row++) {
      const int64_t t = row % seq;
      const int64_t b = row / (qHeads * seq);
      float* s = scores + row * keys;
      const uint8_t* m = mask ? mask + b * keys : nullptr;
      const int64_t visible = causal ? std::max<int64_t>(0, std::min<int64_t>(keys, t + offset + 1)) : keys;
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < visible; k++) {
        if (m && m[k] == 0) continue;
        if (s[k] > max) max = s[k];
      }
      if (max == -std::numeric_limits<double>::infinity()) {
        std::fill(s, s + keys, 0.0f);
        continue;
      }
      if (m)
        for (int64_t k = 0; k < visible; k++)
          if (m[k] == 0) s[k] = -std::numeric_limits<float>::infinity();
      const double sum = expShifted(s, visible, max, s);
      if (m)
        for (int64_t k = 0; k < visible; k++)
          if (m[k] == 0) s[k] = 0;
      const double inv = 1 / sum;
      for (int64_t k = 0; k < visible; k++) s[k] = static_cast<float>(s[k] * inv);
      std::fill(s + visible, s + keys, 0.0f);
    }
  });
  return undefinedValue(env);
}

// softmaxBackwardRows(dProbs, probs, cols): dProbs = probs ∘ (dProbs − rowsum(dProbs ∘ probs)), in place
napi_value SoftmaxBackwardRows(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  int64_t n = 0;
  int64_t pN = 0;
  float* d = a.f32(0, &n);
  const float* p = a.f32(1, &pN);
  const int64_t cols = a.int64(2);
  if (a.failed || !a.check(cols > 0 && n % cols == 0 && pN == n, "softmaxBackwardRows: shapes differ")) return nullptr;
  pool.parallel_for(n / cols, rowGrain(cols), [=](int64_t begin, int64_t end) {
    double* dots = rowScratch(end - begin);
    orderedRowSums(begin, end, cols, [=](int64_t r, int64_t k) { return static_cast<double>(d[r * cols + k]) * p[r * cols + k]; }, dots);
    for (int64_t r = begin; r < end; r++) {
      float* dr = d + r * cols;
      const float* pr = p + r * cols;
      const double dot = dots[r - begin];
      for (int64_t k = 0; k < cols; k++) dr[k] = static_cast<float>(pr[k] * (dr[k] - dot));
    }
  });
  return undefinedValue(env);
}

// softmaxRows(src, dst, cols): dst may be src
napi_value SoftmaxRows(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  int64_t n = 0;
  int64_t dstN = 0;
  const float* src = a.f32(0, &n);
  float* dst = a.f32(1, &dstN);
  const int64_t cols = a.int64(2);
  if (a.failed || !a.check(cols > 0 && n % cols == 0 && dstN == n, "softmaxRows: shapes differ")) return nullptr;
  pool.parallel_for(n / cols, rowGrain(cols), [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* sr = src + r * cols;
      float* dr = dst + r * cols;
      const double max = rowMax(sr, cols);
      const double inv = 1 / expShifted(sr, cols, max, dr);
      for (int64_t k = 0; k < cols; k++) dr[k] = static_cast<float>(dr[k] * inv);
    }
  });
  return undefinedValue(env);
}

// crossEntropyRows(logits, vocab, targets, ignoreIndex, exps | null, stats): for each row not ignored,
// stats[3r..3r+2] = row max, Σ exp(logit − max), target logit (read before `exps`, which may alias
// `logits`, is written); ignored rows get exps zeroed and stats untouched. Targets are checked by the caller.
napi_value CrossEntropyRows(napi_env env, napi_callback_info info) {
  Args a(env, info, 6);
  int64_t n = 0, expsN = 0, statsN = 0;
  const float* logits = a.f32(0, &n);
  const int64_t vocab = a.int64(1);
  int64_t rows = 0;
  const int32_t* targets = a.i32(2, &rows);
  const int64_t ignore = a.int64(3);
  float* exps = a.f32OrNull(4, &expsN);
  double* stats = a.f64(5, &statsN);
  if (a.failed) return nullptr;
  bool fits = vocab > 0 && n == rows * vocab && (!exps || expsN == n) && statsN == 3 * rows;
  for (int64_t r = 0; fits && r < rows; r++) fits = targets[r] == ignore || (targets[r] >= 0 && targets[r] < vocab);
  if (!a.check(fits, "crossEntropyRows: shapes or targets out of range")) return nullptr;
  pool.parallel_for(rows, rowGrain(vocab), [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* row = logits + r * vocab;
      if (targets[r] == ignore) {
        if (exps) std::fill(exps + r * vocab, exps + (r + 1) * vocab, 0.0f);
        continue;
      }
      const double max = rowMax(row, vocab);
      const double target = row[targets[r]];
      stats[3 * r] = max;
      stats[3 * r + 1] = exps ? expShifted(row, vocab, max, exps + r * vocab) : sumExpShifted(row, vocab, max);
      stats[3 * r + 2] = target;
    }
  });
  return undefinedValue(env);
}

// klDivRows(ref, logits, vocab, mask | null, grad | null, count, stats): for each row r whose mask is
// not 0, stats[5r..5r+4] = ref max, Σ exp(ref − ref max), logits max, Σ exp(logit − max), and
// Σ_j p_ref[j] · (ref[j] − logit[j]) in index order; with `grad` (may be `logits`: a row is read before it
// is written) also (softmax(logits) − softmax(ref)) / count per element, zeros on masked rows.
napi_value KlDivRows(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  int64_t refN = 0, n = 0, maskN = 0, gradN = 0, statsN = 0;
  const float* ref = a.f32(0, &refN);
  const float* logits = a.f32(1, &n);
  const int64_t vocab = a.int64(2);
  const uint8_t* mask = a.u8OrNull(3, &maskN);
  float* grad = a.f32OrNull(4, &gradN);
  const double count = a.num(5);
  double* stats = a.f64(6, &statsN);
  if (a.failed) return nullptr;
  const int64_t rows = vocab > 0 ? n / vocab : 0;
  const bool fits = vocab > 0 && n == rows * vocab && refN == n && (!mask || maskN == rows) &&
                    (!grad || gradN == n) && statsN == 5 * rows;
  if (!a.check(fits, "klDivRows: shapes differ")) return nullptr;
  pool.parallel_for(rows, rowGrain(vocab), [=](int64_t begin, int64_t end) {
    thread_local std::vector<float> refProbs, probs;
    if (static_cast<int64_t>(refProbs.size()) < vocab) {
      refProbs.resize(vocab);
      probs.resize(vocab);
    }
    for (int64_t r = begin; r < end; r++) {
      const float* refRow = ref + r * vocab;
      const float* row = logits + r * vocab;
      if (mask && mask[r] == 0) {
        if (grad) std::fill(grad + r * vocab, grad + (r + 1) * vocab, 0.0f);
        continue;
      }
      const double refMax = rowMax(refRow, vocab);
      const double refSum = expShifted(refRow, vocab, refMax, refProbs.data());
      const double max = rowMax(row, vocab);
      const double sum = expShifted(row, vocab, max, probs.data());
      const double refInv = 1 / refSum;
      double cross = 0;
      for (int64_t j = 0; j < vocab; j++)
        cross += static_cast<double>(refProbs[j]) * refInv * (static_cast<double>(refRow[j]) - row[j]);
      double* st = stats + 5 * r;
      st[0] = refMax;
      st[1] = refSum;
      st[2] = max;
      st[3] = sum;
      st[4] = cross;
      if (grad) {
        const double inv = 1 / sum;
        float* g = grad + r * vocab;
        for (int64_t j = 0; j < vocab; j++)
          g[j] = static_cast<float>((probs[j] * inv - refProbs[j] * refInv) / count);
      }
    }
  });
  return undefinedValue(env);
}

// adamw(u, p, m, v, b1, b2, eps, c1, c2, wd, factor | null): with factor, p += factor · update;
// otherwise u = update.
napi_value AdamW(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  int64_t n = 0;
  int64_t pN = 0, mN = 0, vN = 0;
  float* u = a.f32(0, &n);
  float* p = a.f32(1, &pN);
  float* m = a.f32(2, &mN);
  float* v = a.f32(3, &vN);
  const double b1 = a.num(4), b2 = a.num(5), eps = a.num(6), c1 = a.num(7), c2 = a.num(8), wd = a.num(9);
  const bool apply = !a.isNull(10);
  const double factor = apply ? a.num(10) : 0;
  if (a.failed || !a.check(pN == n && mN == n && vN == n, "adamw: lengths differ")) return nullptr;
  const double oneMinusB1 = 1 - b1, oneMinusB2 = 1 - b2;
  pool.parallel_for(n, kGrain, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const double g = u[i];
      const double mi = b1 * m[i] + oneMinusB1 * g;
      const double vi = b2 * v[i] + oneMinusB2 * g * g;
      m[i] = static_cast<float>(mi);
      v[i] = static_cast<float>(vi);
      const double pi = p[i];
      const double update = (mi * c1) / (std::sqrt(vi) * c2 + eps) + wd * pi;
      if (apply)
        p[i] = static_cast<float>(pi + factor * update);
      else
        u[i] = static_cast<float>(update);
    }
  });
  return undefinedValue(env);
}

// permute(src, shape, axes, dst): dst dim i is src dim axes[i]
napi_value Permute(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  int64_t srcN = 0;
  const float* src = a.f32(0, &srcN);
  int64_t rank = 0, axesLength = 0, n = 0;
  const int32_t* shape = a.i32(1, &rank);
  const int32_t* axes = a.i32(2, &axesLength);
  float* dst = a.f32(3, &n);
  if (a.failed) return nullptr;
  int64_t size = 1;
  std::vector<bool> seen(rank, false);
  bool fits = axesLength == rank && rank > 0;
  for (int64_t d = 0; fits && d < rank; d++) {
    fits = shape[d] >= 0 && axes[d] >= 0 && axes[d] < rank && !seen[axes[d]];
    if (fits) seen[axes[d]] = true;
    size *= shape[d];
  }
  if (!a.check(fits && size == srcN && n == srcN, "permute: shape, axes and lengths do not fit")) return nullptr;
  std::vector<int64_t> srcStrides(rank), outShape(rank), readStrides(rank);
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; d--) {
    srcStrides[d] = stride;
    stride *= shape[d];
  }
  for (int64_t d = 0; d < rank; d++) {
    outShape[d] = shape[axes[d]];
    readStrides[d] = srcStrides[axes[d]];
  }
  const int64_t inner = outShape[rank - 1];
  const int64_t innerStride = readStrides[rank - 1];
  const int64_t outerRows = inner == 0 ? 0 : n / inner;
  pool.parallel_for(outerRows, rowGrain(inner), [&](int64_t begin, int64_t end) {
    // Source offset of output row `begin`, from its multi-index over the leading output dims.
    int64_t offset = 0;
    std::vector<int64_t> index(rank, 0);
    for (int64_t d = rank - 2, rest = begin; d >= 0; d--) {
      index[d] = rest % outShape[d];
      rest /= outShape[d];
      offset += index[d] * readStrides[d];
    }
    for (int64_t row = begin; row < end; row++) {
      float* out = dst + row * inner;
      const float* in = src + offset;
      if (innerStride == 1)
        std::memcpy(out, in, inner * sizeof(float));
      else
        for (int64_t j = 0; j < inner; j++) out[j] = in[j * innerStride];
      for (int64_t d = rank - 2; d >= 0; d--) {
        offset += readStrides[d];
        if (++index[d] < outShape[d]) break;
        offset -= readStrides[d] * outShape[d];
        index[d] = 0;
      }
    }
  });
  return undefinedValue(env);
}

}  // namespace

void RegisterOnnxRuntime(napi_env env, napi_value exports);  // native/onnxruntime.cc

NAPI_MODULE_INIT() {
  const struct {
    const char* name;
    napi_callback fn;
  } functions[] = {
      {"setThreads", SetThreads},
      {"swigluForward", SwigluForward},
      {"swigluBackward", SwigluBackward},
      {"rmsNormForward", RmsNormForward},
      {"rmsNormBackward", RmsNormBackward},
      {"ropeRotate", RopeRotate},
      {"binary", Binary},
      {"scaleInto", ScaleInto},
      {"sumRowsInto", SumRowsInto},
      {"sumSquaresEach", SumSquaresEach},
      {"scaleRows", ScaleRows},
      {"gatherRows", GatherRows},
      {"addGatheredRows", AddIndexedRows<false>},
      {"scatterAddRows", AddIndexedRows<true>},
      {"attentionProbs", AttentionProbs},
      {"softmaxBackwardRows", SoftmaxBackwardRows},
      {"softmaxRows", SoftmaxRows},
      {"crossEntropyRows", CrossEntropyRows},
      {"klDivRows", KlDivRows},
      {"lowRankAdd", LowRankAdd},
      {"adamw", AdamW},
      {"permute", Permute},
  };
  for (const auto& f : functions) {
    napi_value value;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &value);
    napi_set_named_property(env, exports, f.name, value);
  }
  RegisterOnnxRuntime(env, exports);
  return exports;
}
