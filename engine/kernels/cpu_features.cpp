// CPU feature detection (cpuid/xgetbv on x86-64, getauxval on aarch64) and kernel-set choice.
#include "kernels/cpu_features.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace gemmad::kernels {
namespace {

#if defined(__x86_64__)
// XCR0 via xgetbv, without needing -mxsave for the intrinsic.
uint64_t read_xcr0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx & bit_OSXSAVE) != 0;
  const bool fma = (ecx & bit_FMA) != 0;
  const bool f16c = (ecx & bit_F16C) != 0;
  const bool avx = (ecx & bit_AVX) != 0;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  // Bits 1, 2: SSE and AVX state; bits 5-7: opmask, ZMM0-15 upper halves, ZMM16-31.
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;
  const bool zmm_saved = (xcr0 & 0xe6) == 0xe6;
  if (!ymm_saved) return f;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = (ebx & bit_AVX2) != 0;
  f.fma = fma;
  f.f16c = f16c;
  if (zmm_saved) {
    f.avx512f = (ebx & bit_AVX512F) != 0;
    f.avx512bw = (ebx & bit_AVX512BW) != 0;
    f.avx512vl = (ebx & bit_AVX512VL) != 0;
    f.avx512vnni = (ecx & bit_AVX512VNNI) != 0;
    f.avx512vbmi = (ecx & bit_AVX512VBMI) != 0;
    unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
    __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
    f.avx512bf16 = (eax1 & (1u << 5)) != 0;
  }
  return f;
}
#elif defined(__aarch64__)
CpuFeatures detect() {
  CpuFeatures f;
  f.neon = true;  // Advanced SIMD is mandatory on AArch64.
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.dotprod = (hwcap & HWCAP_ASIMDDP) != 0;
  return f;
}
#else
CpuFeatures detect() {
  return CpuFeatures{};
}
#endif

// Which sets this build compiled in (the SIMD files are added per architecture in
// CMakeLists.txt, which defines these).
constexpr bool kHaveX86Sets =
#if defined(GEMMAD_KERNELS_X86)
    true;
#else
    false;
#endif
constexpr bool kHaveNeonSet =
#if defined(GEMMAD_KERNELS_NEON)
    true;
#else
    false;
#endif

Result<KernelSet> select_from_env() {
  Result<KernelSet> r = select_kernel_set(std::getenv("GEMMAD_KERNELS"), cpu_features());
  return r;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

const char* kernel_set_name(KernelSet set) {
  switch (set) {
    case KernelSet::kScalar:
      return "scalar";
    case KernelSet::kAvx2:
      return "avx2";
    case KernelSet::kAvx512:
      return "avx512";
    case KernelSet::kNeon:
      return "neon";
  }
  return "?";
}

bool kernel_set_usable(KernelSet set, const CpuFeatures& f) {
  switch (set) {
    case KernelSet::kScalar:
      return true;
    case KernelSet::kAvx2:
      return kHaveX86Sets && f.avx2 && f.fma && f.f16c;
    case KernelSet::kAvx512:
      return kHaveX86Sets && f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl &&
             f.avx512vnni && f.avx512vbmi;
    case KernelSet::kNeon:
      return kHaveNeonSet && f.neon;
  }
  return false;
}

std::vector<KernelSet> usable_kernel_sets() {
  std::vector<KernelSet> sets;
  for (KernelSet s : {KernelSet::kScalar, KernelSet::kNeon, KernelSet::kAvx2, KernelSet::kAvx512}) {
    if (kernel_set_usable(s, cpu_features())) sets.push_back(s);
  }
  return sets;
}

Result<KernelSet> select_kernel_set(const char* env_value, const CpuFeatures& features) {
  if (env_value == nullptr || env_value[0] == '\0') {
    for (KernelSet s : {KernelSet::kAvx512, KernelSet::kAvx2, KernelSet::kNeon}) {
      if (kernel_set_usable(s, features)) return s;
    }
    return KernelSet::kScalar;
  }
  for (KernelSet s : {KernelSet::kScalar, KernelSet::kAvx2, KernelSet::kAvx512, KernelSet::kNeon}) {
    if (std::strcmp(env_value, kernel_set_name(s)) != 0) continue;
    if (!kernel_set_usable(s, features)) {
      return make_error(ErrorCode::kUnsupported, std::string("GEMMAD_KERNELS=") + env_value +
                                                     ": this CPU or build lacks that kernel set");
    }
    return s;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    std::string("GEMMAD_KERNELS=") + env_value +
                        ": unknown kernel set (expected scalar, avx2, avx512 or neon)");
}

Result<KernelSet> init_kernels() {
  static const Result<KernelSet> chosen = select_from_env();
  return chosen;
}

KernelSet active_kernel_set() {
  static const KernelSet set = [] {
    Result<KernelSet> r = init_kernels();
    if (!r.ok()) {
      std::fprintf(stderr, "gemmad: %s\n", r.error().message.c_str());
      std::exit(2);
    }
    return r.value();
  }();
  return set;
}

}  // namespace gemmad::kernels
