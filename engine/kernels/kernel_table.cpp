// The kernel tables of every set compiled into this build. A SIMD set points at the reference
// kernel for any type it has no fast path for.
#include "kernels/kernel_table.h"

#include <cstdio>
#include <cstdlib>

#include "kernels/dot_float.h"
#include "kernels/dot_q2_0.h"
#include "kernels/dot_q4_0.h"
#include "kernels/dot_q4_k.h"
#include "kernels/dot_q6_k.h"
#include "kernels/dot_q8_0.h"
#include "kernels/kv_rows.h"

namespace gemmad::kernels {
namespace {

TypeKernel q(QDotFn fn, int32_t offset, bool split = false) {
  return TypeKernel{fn, nullptr, offset, split};
}
TypeKernel f(FDotFn fn) {
  return TypeKernel{nullptr, fn, 0, false};
}

KernelTable make_scalar() {
  KernelTable t;
  t.set = KernelSet::kScalar;
  t.quantize_act = quantize_act_q8_ref;
  t.f32 = f(dot_f32_ref);
  t.f16 = f(dot_f16_ref);
  t.bf16 = f(dot_bf16_ref);
  // The reference kernels compute c - offset themselves and ignore ActQ8::bias.
  t.q4_0 = q(dot_q4_0_ref, 0);
  t.q8_0 = q(dot_q8_0_ref, 0);
  t.q2_0 = q(dot_q2_0_ref, 0);
  t.q4_k = q(dot_q4_k_ref, 0);
  t.q6_k = q(dot_q6_k_ref, 0);
  t.kv = KvKernels{widen_kv_f16_ref, widen_kv_q8_ref, widen_kv_q4_ref, widen_kv_q8s_ref};
  t.scaled[0] = {quant::GgmlType::kGQ2, dot_gq2_ref};
  t.scaled[1] = {quant::GgmlType::kGQ4, dot_gq4_ref};
  t.scaled[2] = {quant::GgmlType::kGQ8, dot_gq8_ref};
  return t;
}

#if defined(GEMMAD_KERNELS_X86)
KernelTable make_avx2() {
  KernelTable t;
  t.set = KernelSet::kAvx2;
  t.quantize_act = quantize_act_q8_avx2;
  t.f32 = f(dot_f32_avx2);
  t.f16 = f(dot_f16_avx2);
  t.bf16 = f(dot_bf16_avx2);
  t.q4_0 = q(dot_q4_0_avx2, 8);
  t.q8_0 = q(dot_q8_0_avx2, 0);  // signed x signed, widened to 16 bits: no zero point
  t.q2_0 = q(dot_q2_0_avx2, 1);
  t.q4_k = q(dot_q4_k_avx2, 0);  // unsigned codes; the min goes through ActQ8::ds
  t.q6_k = q(dot_q6_k_avx2, 32, true);
  t.kv = KvKernels{widen_kv_f16_avx2, widen_kv_q8_avx2, widen_kv_q4_avx2,
                   widen_kv_q8s_avx2, kv_score_avx2,    kv_accumulate_avx2};
  t.scaled[0] = {quant::GgmlType::kGQ2, dot_gq2_avx2};
  t.scaled[1] = {quant::GgmlType::kGQ4, dot_gq4_avx2};
  t.scaled[2] = {quant::GgmlType::kGQ8, dot_gq8_avx2};
  return t;
}

KernelTable make_avx512() {
  KernelTable t;
  t.set = KernelSet::kAvx512;
  t.quantize_act = quantize_act_q8_avx512;
  t.f32 = f(dot_f32_avx512);
  t.f16 = f(dot_f16_avx512);
  t.bf16 = f(dot_bf16_avx512);
  t.q4_0 = q(dot_q4_0_avx512, 8);
  t.q8_0 = q(dot_q8_0_avx512, 128);  // codes flipped to unsigned (w ^ 0x80 = w + 128)
  t.q2_0 = q(dot_q2_0_avx512, 1);
  t.q4_k = q(dot_q4_k_avx512, 0);
  t.q6_k = q(dot_q6_k_avx512, 32, true);
  t.kv = KvKernels{widen_kv_f16_avx512, widen_kv_q8_avx512, widen_kv_q4_avx512,
                   widen_kv_q8s_avx512, kv_score_avx512,    kv_accumulate_avx512};
  t.scaled[0] = {quant::GgmlType::kGQ2, dot_gq2_avx512};
  t.scaled[1] = {quant::GgmlType::kGQ4, dot_gq4_avx512};
  t.scaled[2] = {quant::GgmlType::kGQ8, dot_gq8_avx512};
  return t;
}
#endif

#if defined(GEMMAD_KERNELS_NEON)
KernelTable make_neon() {
  KernelTable t = make_scalar();  // types without a NEON kernel keep the reference
  t.set = KernelSet::kNeon;
  t.quantize_act = quantize_act_q8_neon;
  t.f32 = f(dot_f32_neon);
  t.f16 = f(dot_f16_neon);
  t.bf16 = f(dot_bf16_neon);
  // Codes are made signed in registers: no zero point through ActQ8::bias.
  t.q4_0 = q(dot_q4_0_neon, 0);
  t.q8_0 = q(dot_q8_0_neon, 0);
  t.q6_k = q(dot_q6_k_neon, 0);
  t.kv = KvKernels{widen_kv_f16_neon, widen_kv_q8_neon, widen_kv_q4_neon, widen_kv_q8s_neon};
  t.scaled[0] = {quant::GgmlType::kGQ2, dot_gq2_neon};
  t.scaled[1] = {quant::GgmlType::kGQ4, dot_gq4_neon};
  t.scaled[2] = {quant::GgmlType::kGQ8, dot_gq8_neon};
  return t;
}
#endif

}  // namespace

const KernelTable& kernel_table(KernelSet set) {
  static const KernelTable scalar = make_scalar();
#if defined(GEMMAD_KERNELS_X86)
  static const KernelTable avx2 = make_avx2();
  static const KernelTable avx512 = make_avx512();
#endif
#if defined(GEMMAD_KERNELS_NEON)
  static const KernelTable neon = make_neon();
#endif
  switch (set) {
    case KernelSet::kScalar:
      return scalar;
    case KernelSet::kAvx2:
#if defined(GEMMAD_KERNELS_X86)
      return avx2;
#else
      break;
#endif
    case KernelSet::kAvx512:
#if defined(GEMMAD_KERNELS_X86)
      return avx512;
#else
      break;
#endif
    case KernelSet::kNeon:
#if defined(GEMMAD_KERNELS_NEON)
      return neon;
#else
      break;
#endif
  }
  // Callers pass only usable sets (kernel_set_usable); anything else is a programmer error.
  std::fprintf(stderr, "gemmad: kernel set %s is not compiled into this build\n",
               kernel_set_name(set));
  std::abort();
}

const TypeKernel* find_kernel(const KernelTable& table, quant::GgmlType type) {
  using quant::GgmlType;
  switch (type) {
    case GgmlType::kF32:
      return &table.f32;
    case GgmlType::kF16:
      return &table.f16;
    case GgmlType::kBF16:
      return &table.bf16;
    case GgmlType::kQ4_0:
      return &table.q4_0;
    case GgmlType::kQ8_0:
      return &table.q8_0;
    case GgmlType::kQ2_0:
      return &table.q2_0;
    case GgmlType::kQ4_K:
      return &table.q4_k;
    case GgmlType::kQ6_K:
      return &table.q6_k;
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_1:
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ8_K:
    case GgmlType::kI8:
    case GgmlType::kI16:
    case GgmlType::kI32:
    case GgmlType::kI64:
    case GgmlType::kF64:
    case GgmlType::kQ1_0:
    case GgmlType::kGQ2:
    case GgmlType::kGQ4:
    case GgmlType::kGQ8:
      break;
  }
  return nullptr;
}

GDotFn find_scaled_kernel(const KernelTable& table, quant::GgmlType type) {
  for (const ScaledKernel& k : table.scaled) {
    if (k.type == type) return k.dot;
  }
  return nullptr;
}

}  // namespace gemmad::kernels
