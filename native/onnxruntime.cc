// onnxruntime sessions run straight from rlcp's addon, through onnxruntime's C API.
//
// onnxruntime-node's own binding copies every output of every run into a fresh ArrayBuffer, even when
// the caller pre-allocated the output (as src/tensor/kernels/gemm.ts always does). For a training step
// that is every GEMM result copied once more, allocated, zero-filled and garbage-collected: ~160 MB per
// step of the bench's `small` model. Here a run binds the caller's Float32Arrays as inputs and outputs,
// and onnxruntime writes the result in place; nothing is allocated per run but the small OrtValue
// wrappers. The library is the one onnxruntime-node ships (its path comes from JavaScript), opened
// with dlopen, so there is nothing to link against at build time.
//
// The C API is a table of function pointers (struct OrtApi) that onnxruntime only ever appends to; the
// entries used here are addressed by their index in that table, which is fixed since API version 1
// (AddSessionConfigEntry since version 5).
#include <dlfcn.h>
#include <node_api.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct OrtStatus;
struct OrtEnv;
struct OrtSession;
struct OrtSessionOptions;
struct OrtMemoryInfo;
struct OrtValue;
struct OrtRunOptions;

struct OrtApiBase {
  const void* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)();
};

// The API version requested: every entry below exists from version 5 on, and any newer library
// answers an older version with the same (append-only) table.
constexpr uint32_t kApiVersion = 5;

// Indices into struct OrtApi.
enum ApiIndex : int {
  kGetErrorMessage = 2,
  kCreateEnv = 3,
  kCreateSessionFromArray = 8,
  kRun = 9,
  kCreateSessionOptions = 10,
  kSetSessionExecutionMode = 13,
  kDisableCpuMemArena = 19,
  kSetSessionGraphOptimizationLevel = 23,
  kSetIntraOpNumThreads = 24,
  kSetInterOpNumThreads = 25,
  kCreateTensorWithDataAsOrtValue = 49,
  kCreateCpuMemoryInfo = 69,
  kReleaseStatus = 93,
  kReleaseSession = 95,
  kReleaseValue = 96,
  kReleaseSessionOptions = 100,
  kAddSessionConfigEntry = 130,
};

// Enum values of the C API.
constexpr int kLoggingLevelWarning = 2;
constexpr int kExecutionModeSequential = 0;
constexpr int kGraphOptimizationAll = 99;
constexpr int kArenaAllocator = 1;
constexpr int kMemTypeDefault = 0;
constexpr int kElementFloat = 1;

const void* const* api = nullptr;
OrtEnv* ortEnv = nullptr;
OrtMemoryInfo* cpuMemory = nullptr;

template <typename Fn>
Fn entry(ApiIndex index) {
  return reinterpret_cast<Fn>(const_cast<void*>(api[index]));
}

/** Throws the status's message (prefixed) as a JavaScript error and releases it; true if there was one. */
bool failed(napi_env env, OrtStatus* status, const char* what) {
  if (status == nullptr) return false;
  const std::string message =
      std::string(what) + ": " + entry<const char* (*)(const OrtStatus*)>(kGetErrorMessage)(status);
  entry<void (*)(OrtStatus*)>(kReleaseStatus)(status);
  napi_throw_error(env, nullptr, message.c_str());
  return true;
}

bool ready(napi_env env) {
  if (api != nullptr) return true;
  napi_throw_error(env, nullptr, "onnxruntime: ortInit(libraryPath) has not run");
  return false;
}

std::string stringArg(napi_env env, napi_value value) {
  size_t length = 0;
  napi_get_value_string_utf8(env, value, nullptr, 0, &length);
  std::string out(length, '\0');
  napi_get_value_string_utf8(env, value, out.data(), length + 1, &length);
  return out;
}

std::vector<std::string> stringArray(napi_env env, napi_value array) {
  uint32_t length = 0;
  napi_get_array_length(env, array, &length);
  std::vector<std::string> out;
  for (uint32_t i = 0; i < length; i++) {
    napi_value item;
    napi_get_element(env, array, i, &item);
    out.push_back(stringArg(env, item));
  }
  return out;
}

// ortInit(libraryPath): opens onnxruntime's shared library and creates the (process-wide) environment.
napi_value OrtInit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  static std::mutex initializing;  // JavaScript threads (worker_threads) share the process's library
  std::lock_guard<std::mutex> lock(initializing);
  if (api != nullptr) return nullptr;
  const std::string path = stringArg(env, argv[0]);
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (library == nullptr) {
    napi_throw_error(env, nullptr, (std::string("onnxruntime: cannot open ") + path + ": " + dlerror()).c_str());
    return nullptr;
  }
  auto getApiBase = reinterpret_cast<const OrtApiBase* (*)()>(dlsym(library, "OrtGetApiBase"));
  const void* table = getApiBase ? getApiBase()->GetApi(kApiVersion) : nullptr;
  if (table == nullptr) {
    napi_throw_error(env, nullptr, (std::string("onnxruntime: ") + path + " has no C API version 5").c_str());
    return nullptr;
  }
  api = static_cast<const void* const*>(table);
  using CreateEnv = OrtStatus* (*)(int, const char*, OrtEnv**);
  if (failed(env, entry<CreateEnv>(kCreateEnv)(kLoggingLevelWarning, "rlcp", &ortEnv), "onnxruntime CreateEnv")) {
    api = nullptr;
    return nullptr;
  }
  using CreateCpuMemoryInfo = OrtStatus* (*)(int, int, OrtMemoryInfo**);
  if (failed(env, entry<CreateCpuMemoryInfo>(kCreateCpuMemoryInfo)(kArenaAllocator, kMemTypeDefault, &cpuMemory),
             "onnxruntime CreateCpuMemoryInfo")) {
    api = nullptr;
    return nullptr;
  }
  return nullptr;
}

struct Session {
  OrtSession* session = nullptr;
  std::vector<std::string> inputNames, outputNames;
  std::vector<const char*> inputPtrs, outputPtrs;
};

void finalizeSession(napi_env, void* data, void*) {
  auto* s = static_cast<Session*>(data);
  if (s->session) entry<void (*)(OrtSession*)>(kReleaseSession)(s->session);
  delete s;
}

// ortSession(modelBytes: Uint8Array, inputNames, outputNames, threads): a compiled graph (an External)
napi_value OrtCreateSession(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (!ready(env)) return nullptr;
  void* bytes = nullptr;
  size_t length = 0;
  napi_typedarray_type type = napi_int8_array;
  bool isTyped = false;
  napi_is_typedarray(env, argv[0], &isTyped);
  if (isTyped) napi_get_typedarray_info(env, argv[0], &type, &length, &bytes, nullptr, nullptr);
  if (!isTyped || type != napi_uint8_array) {
    napi_throw_type_error(env, nullptr, "onnxruntime session: expected the model as a Uint8Array");
    return nullptr;
  }
  int32_t threads = 1;
  napi_get_value_int32(env, argv[3], &threads);

  using OptionsFn = OrtStatus* (*)(OrtSessionOptions*);
  using OptionsIntFn = OrtStatus* (*)(OrtSessionOptions*, int);
  OrtSessionOptions* options = nullptr;
  if (failed(env, entry<OrtStatus* (*)(OrtSessionOptions**)>(kCreateSessionOptions)(&options), "onnxruntime options"))
    return nullptr;
  OrtStatus* status = entry<OptionsIntFn>(kSetSessionExecutionMode)(options, kExecutionModeSequential);
  if (!status) status = entry<OptionsIntFn>(kSetSessionGraphOptimizationLevel)(options, kGraphOptimizationAll);
  if (!status) status = entry<OptionsIntFn>(kSetIntraOpNumThreads)(options, threads);
  if (!status) status = entry<OptionsIntFn>(kSetInterOpNumThreads)(options, 1);
  // The arena would keep every intermediate buffer onnxruntime ever allocated (RSS growth).
  if (!status) status = entry<OptionsFn>(kDisableCpuMemArena)(options);
  // Idle pool threads sleep instead of spinning: spinning burns the core rlcp's own kernels run on
  // between GEMMs (and other processes' cores on a shared machine).
  using ConfigFn = OrtStatus* (*)(OrtSessionOptions*, const char*, const char*);
  if (!status) status = entry<ConfigFn>(kAddSessionConfigEntry)(options, "session.intra_op.allow_spinning", "0");
  auto* s = new Session();
  if (!status) {
    using CreateFn = OrtStatus* (*)(const OrtEnv*, const void*, size_t, const OrtSessionOptions*, OrtSession**);
    status = entry<CreateFn>(kCreateSessionFromArray)(ortEnv, bytes, length, options, &s->session);
  }
  entry<void (*)(OrtSessionOptions*)>(kReleaseSessionOptions)(options);
  if (failed(env, status, "onnxruntime session")) {
    delete s;
    return nullptr;
  }
  s->inputNames = stringArray(env, argv[1]);
  s->outputNames = stringArray(env, argv[2]);
  for (auto& n : s->inputNames) s->inputPtrs.push_back(n.c_str());
  for (auto& n : s->outputNames) s->outputPtrs.push_back(n.c_str());
  napi_value external;
  napi_create_external(env, s, finalizeSession, nullptr, &external);
  return external;
}

/** An OrtValue over a Float32Array's memory (no copy) with the given dims; null after throwing. */
OrtValue* wrapTensor(napi_env env, napi_value data, napi_value dims) {
  napi_typedarray_type type;
  size_t length = 0;
  void* pointer = nullptr;
  bool isTyped = false;
  napi_is_typedarray(env, data, &isTyped);
  if (isTyped) napi_get_typedarray_info(env, data, &type, &length, &pointer, nullptr, nullptr);
  if (!isTyped || type != napi_float32_array) {
    napi_throw_type_error(env, nullptr, "onnxruntime run: expected a Float32Array");
    return nullptr;
  }
  uint32_t rank = 0;
  napi_get_array_length(env, dims, &rank);
  std::vector<int64_t> shape(rank);
  int64_t elements = 1;
  for (uint32_t d = 0; d < rank; d++) {
    napi_value item;
    napi_get_element(env, dims, d, &item);
    napi_get_value_int64(env, item, &shape[d]);
    elements *= shape[d];
  }
  if (elements != static_cast<int64_t>(length) || length == 0) {
    napi_throw_range_error(env, nullptr, "onnxruntime run: dims do not match the array's length (or it is empty)");
    return nullptr;
  }
  using CreateTensorFn =
      OrtStatus* (*)(const OrtMemoryInfo*, void*, size_t, const int64_t*, size_t, int, OrtValue**);
  OrtValue* value = nullptr;
  if (failed(env,
             entry<CreateTensorFn>(kCreateTensorWithDataAsOrtValue)(cpuMemory, pointer, length * sizeof(float),
                                                                     shape.data(), rank, kElementFloat, &value),
             "onnxruntime tensor"))
    return nullptr;
  return value;
}

// ortRun(session, inputs: Float32Array[], inputDims: number[][], outputs: Float32Array[], outputDims: number[][]):
// runs the graph, writing each output into the given array (its dims must be the output's shape).
napi_value OrtRun(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (!ready(env)) return nullptr;
  Session* s = nullptr;
  if (napi_get_value_external(env, argv[0], reinterpret_cast<void**>(&s)) != napi_ok || s == nullptr) {
    napi_throw_type_error(env, nullptr, "onnxruntime run: not a session");
    return nullptr;
  }
  std::vector<OrtValue*> inputs(s->inputNames.size(), nullptr), outputs(s->outputNames.size(), nullptr);
  auto release = [&] {
    for (auto* v : inputs)
      if (v) entry<void (*)(OrtValue*)>(kReleaseValue)(v);
    for (auto* v : outputs)
      if (v) entry<void (*)(OrtValue*)>(kReleaseValue)(v);
  };
  auto wrapAll = [&](napi_value arrays, napi_value dims, std::vector<OrtValue*>& into) {
    uint32_t count = 0;
    napi_get_array_length(env, arrays, &count);
    if (count != into.size()) {
      napi_throw_range_error(env, nullptr, "onnxruntime run: wrong number of inputs or outputs");
      return false;
    }
    for (uint32_t i = 0; i < count; i++) {
      napi_value data, shape;
      napi_get_element(env, arrays, i, &data);
      napi_get_element(env, dims, i, &shape);
      into[i] = wrapTensor(env, data, shape);
      if (into[i] == nullptr) return false;
    }
    return true;
  };
  if (!wrapAll(argv[1], argv[2], inputs) || !wrapAll(argv[3], argv[4], outputs)) {
    release();
    return nullptr;
  }
  using RunFn = OrtStatus* (*)(OrtSession*, const OrtRunOptions*, const char* const*, const OrtValue* const*, size_t,
                               const char* const*, size_t, OrtValue**);
  OrtStatus* status = entry<RunFn>(kRun)(s->session, nullptr, s->inputPtrs.data(), inputs.data(), inputs.size(),
                                         s->outputPtrs.data(), outputs.size(), outputs.data());
  release();
  failed(env, status, "onnxruntime run");
  return nullptr;
}

}  // namespace

void RegisterOnnxRuntime(napi_env env, napi_value exports) {
  const struct {
    const char* name;
    napi_callback fn;
  } functions[] = {
      {"ortInit", OrtInit},
      {"ortSession", OrtCreateSession},
      {"ortRun", OrtRun},
  };
  for (const auto& f : functions) {
    napi_value value;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &value);
    napi_set_named_property(env, exports, f.name, value);
  }
}
