// Run-time CPU feature detection and the choice of kernel set (scalar, AVX2, AVX-512, NEON).
//
// The set is chosen once, at the first matmul or at init_kernels(): the best the CPU supports,
// or the one named by the environment variable GEMMAD_KERNELS=scalar|avx2|avx512|neon (for
// tests and benchmarks; naming a set the CPU or this build lacks is an error). SIMD files are
// compiled with their own per-file target flags, never -march=native, so one binary runs on
// any CPU of its architecture.
#pragma once

#include <vector>

#include "common/result.h"

namespace gemmad::kernels {

struct CpuFeatures {
  // x86-64 (cpuid + xgetbv: the OS must also save the wider registers).
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512vbmi = false;
  bool avx512bf16 = false;
  // aarch64 (getauxval).
  bool neon = false;
  bool dotprod = false;
};

// Features of the CPU this process runs on (detected once).
const CpuFeatures& cpu_features();

enum class KernelSet {
  kScalar,  // reference kernels: plain C++, every type
  kAvx2,    // needs AVX2 + FMA + F16C
  kAvx512,  // needs AVX-512 F/BW/VL/VNNI/VBMI (Ice Lake, Zen 4 and later) + the AVX2 set's
  kNeon,    // aarch64 Advanced SIMD
};

const char* kernel_set_name(KernelSet set);

// Whether `set` is compiled into this build and usable on a CPU with `features`.
bool kernel_set_usable(KernelSet set, const CpuFeatures& features);

// Every usable set on this CPU, scalar first, best last.
std::vector<KernelSet> usable_kernel_sets();

// The set named by `env_value` (nullptr or "" = the best usable one). Error kInvalidArgument
// for an unknown name, kUnsupported for a set this CPU or build lacks.
Result<KernelSet> select_kernel_set(const char* env_value, const CpuFeatures& features);

// Chooses the active set from GEMMAD_KERNELS and the CPU (first call only; later calls return
// the first result). Call at start-up to report a bad GEMMAD_KERNELS as an error; otherwise the
// first matmul() chooses, and a bad value is printed to stderr and the process exits.
Result<KernelSet> init_kernels();

// The active set (initialising it if needed).
KernelSet active_kernel_set();

}  // namespace gemmad::kernels
