{
  "targets": [
    {
      "target_name": "rlcp_kernels",
      "sources": ["native/kernels.cc", "native/onnxruntime.cc"],
      "cflags_cc": ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-ldl"]
    }
  ]
}
