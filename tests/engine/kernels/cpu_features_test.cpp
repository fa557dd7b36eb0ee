// Kernel-set selection: GEMMAD_KERNELS names a set, unknown names and sets the CPU lacks are
// errors, and no name picks the best usable set.
#include <gtest/gtest.h>

#include "kernels/cpu_features.h"

namespace gemmad::kernels {
namespace {

TEST(KernelSets, ScalarIsAlwaysUsableAndListedFirst) {
  EXPECT_TRUE(kernel_set_usable(KernelSet::kScalar, CpuFeatures{}));
  const std::vector<KernelSet> sets = usable_kernel_sets();
  ASSERT_FALSE(sets.empty());
  EXPECT_EQ(sets.front(), KernelSet::kScalar);
}

TEST(KernelSets, NamedSetIsChosenWhenUsable) {
  const Result<KernelSet> r = select_kernel_set("scalar", cpu_features());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, KernelSet::kScalar);
}

TEST(KernelSets, UnknownNameIsAnInvalidArgument) {
  const Result<KernelSet> r = select_kernel_set("sse9", cpu_features());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("sse9"), std::string::npos);
}

TEST(KernelSets, SetTheCpuLacksIsUnsupported) {
  const CpuFeatures none{};  // a CPU with no SIMD at all
  for (const char* name : {"avx2", "avx512", "neon"}) {
    const Result<KernelSet> r = select_kernel_set(name, none);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported) << name;
  }
}

TEST(KernelSets, NoNamePicksTheBestUsableSet) {
  const Result<KernelSet> r = select_kernel_set(nullptr, cpu_features());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, usable_kernel_sets().back());
  const Result<KernelSet> none = select_kernel_set("", CpuFeatures{});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, KernelSet::kScalar);
}

#if defined(__x86_64__)
TEST(KernelSets, Avx512NeedsEveryFeatureItUses) {
  CpuFeatures f;
  f.avx2 = f.fma = f.f16c = true;
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = true;
  EXPECT_FALSE(kernel_set_usable(KernelSet::kAvx512, f));  // no VBMI
  f.avx512vbmi = true;
  EXPECT_TRUE(kernel_set_usable(KernelSet::kAvx512, f));
  f.f16c = false;
  EXPECT_FALSE(kernel_set_usable(KernelSet::kAvx512, f));
  EXPECT_FALSE(kernel_set_usable(KernelSet::kAvx2, f));
}
#endif

}  // namespace
}  // namespace gemmad::kernels
