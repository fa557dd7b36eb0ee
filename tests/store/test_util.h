// Store test helpers: a fresh temporary directory per test (tests/common/temp_dir.h), and
// ok-or-print-the-error asserts.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace gemmad::store::testing {

using gemmad::testing::TempDir;

}  // namespace gemmad::store::testing

// ASSERT_OK(status_or_result): fails the test with the error's message.
#define ASSERT_OK(expr)                                               \
  do {                                                                \
    const auto& store_test_r_ = (expr);                               \
    ASSERT_TRUE(store_test_r_.ok()) << store_test_r_.error().message; \
  } while (0)

// ASSERT_OK_AND_ASSIGN(auto x, f()): x is f()'s value, or the test fails with the error.
#define STORE_TEST_CONCAT_INNER_(a, b) a##b
#define STORE_TEST_CONCAT_(a, b) STORE_TEST_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(STORE_TEST_CONCAT_(store_test_v_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  ASSERT_TRUE(tmp.ok()) << tmp.error().message;    \
  lhs = std::move(tmp).value()
