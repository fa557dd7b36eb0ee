// Rows x token tiles of the SIMD dot kernels: one weight row (or a few) is read once for a tile
// of up to 4 tokens, whose accumulators the kernel keeps in registers; the tile size reaches
// the kernel as a compile-time constant so those accumulators are plain arrays.
//
// Linkage: every function here sits in an unnamed namespace, so each kernel file gets its own
// copy. Kernel files are compiled with different -m flags and chosen at run time; an `inline`
// template with external linkage would become a weak (COMDAT) symbol per instantiation, and
// the linker may keep the copy compiled for AVX-512 to serve the AVX2 file too (SIGILL on an
// AVX2-only CPU). Pass only callables local to the kernel file (lambdas), for the same reason.
#pragma once

#include <cstdint>
#include <type_traits>

namespace gemmad::kernels {
namespace {

// Tokens per full tile.
constexpr int kTileTok = 4;

// Token tiles [t0, t0 + T) covering [0, n_tok) in order: full tiles of kTileTok, then one of
// the 3, 2 or 1 tokens left. Calls tile(std::integral_constant<int, T>{}, t0) for each.
template <typename Tile>
void token_tiles(int64_t n_tok, Tile&& tile) {
  int64_t t = 0;
  for (; t + kTileTok <= n_tok; t += kTileTok)
    tile(std::integral_constant<int, kTileTok>{}, t);
  switch (n_tok - t) {
    case 3:
      tile(std::integral_constant<int, 3>{}, t);
      break;
    case 2:
      tile(std::integral_constant<int, 2>{}, t);
      break;
    case 1:
      tile(std::integral_constant<int, 1>{}, t);
      break;
    default:
      break;
  }
}

// Row r of w [n_rows rows of row_bytes] with each token tile of token_tiles(n_tok), row by row:
// calls tile(std::integral_constant<int, T>{}, row, t0, y + r), where row = w + r * row_bytes
// and y + r is the row's output for token 0 (the kernel steps by its token stride).
template <typename Tile>
void row_tiles(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, int64_t n_tok, float* y,
               Tile&& tile) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    token_tiles(n_tok, [&](auto tok, int64_t t0) { tile(tok, row, t0, y + r); });
  }
}

}  // namespace
}  // namespace gemmad::kernels
