// matmul(): quantise the activations once, then split the output rows over the thread pool;
// each chunk of rows is read once for every token of the batch (docs/GEMMA4.md §4: decode is
// memory-bound, so a batch of sequences shares one pass over the weights).
#include "kernels/matmul.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/thread_pool.h"
#include "quant/scaled_codes.h"

namespace gemmad::kernels {
namespace {

// Rows per chunk: at least ~32 KiB of weights so dispatch cost stays small against the work,
// in multiples of 4 rows.
int64_t row_grain(const WeightView& w) {
  const int64_t rows = static_cast<int64_t>(32768 / std::max<uint64_t>(w.row_bytes, 1)) + 1;
  return (rows + 3) / 4 * 4;
}

// Tokens per pass over a chunk of rows for the integer kernels: a block's activations (about 2
// bytes per value: codes, lane biases and scales, act_q8.h) fill ~256 KiB, a quarter of a
// typical L2, so many tokens (prefill) do not stream every token's activations from L3 once
// per weight row. A multiple of the kernels' token tile, so blocking changes no tile's shape
// except the last (and a token's result never depends on its tile anyway).
int64_t token_block(int64_t n_in) {
  constexpr int64_t kBytes = 256 * 1024;
  const int64_t tokens = kBytes / std::max<int64_t>(2 * n_in, 1);
  return std::max<int64_t>(8, tokens / 8 * 8);
}

// Rows of a type without a kernel: dequantise each row with the reference, then the set's f32
// kernel. Slow, but correct for every computable type.
void dequant_rows(const KernelTable& table, const WeightView& w, const float* x, int64_t n_tok,
                  float* y, int64_t begin, int64_t end) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(w.n_in));
  for (int64_t o = begin; o < end; ++o) {
    quant::dequantize_row_ref(w.type, w.data + o * w.row_bytes, row.data(), w.n_in);
    table.f32.fdot(reinterpret_cast<const uint8_t*>(row.data()), 0, 1, x, w.n_in, n_tok, y + o,
                   w.n_out);
  }
}

void run(const KernelTable& table, const WeightView& w, const float* x, int64_t n_tok, float* y,
         ThreadPool* pool) {
  if (n_tok <= 0 || w.n_out <= 0) return;
  assert(w.n_in > 0 && w.data != nullptr);
  auto for_rows = [&](const std::function<void(int64_t, int64_t)>& fn) {
    if (pool == nullptr) {
      fn(0, w.n_out);
    } else {
      pool->parallel_for(w.n_out, row_grain(w),
                         [&](int64_t begin, int64_t end, int) { fn(begin, end); });
    }
  };
  if (quant::is_scaled_codes(w.type)) {
    const GDotFn dot = find_scaled_kernel(table, w.type);
    assert(dot != nullptr && w.scales != nullptr && w.group > 0 && w.n_in % w.group == 0);
    // Per calling thread, as tls_act below.
    thread_local ActI8Buffer tls_act_i8;
    ActI8Buffer& act = tls_act_i8;
    act.reserve(w.n_in, n_tok, w.group);
    const int phases = 8 / quant::traits(w.type).code_bits;
    for (int64_t t = 0; t < n_tok; ++t) {
      quantize_act_i8(x + t * w.n_in, w.n_in, w.group, w.in_scale, act.qs(t), act.d(t), act.sum(t));
      act_i8_to_phases(act.qs(t), w.n_in, w.group, phases);
    }
    const ActI8 view = act.view(phases);
    const int64_t n_groups = w.n_in / w.group;
    for_rows([&](int64_t begin, int64_t end) {
      dot(w.data + begin * w.row_bytes, w.row_bytes, end - begin, w.scales + begin * n_groups, view,
          y + begin, w.n_out);
    });
    return;
  }
  const TypeKernel* k = find_kernel(table, w.type);
  if (k == nullptr) {
    for_rows([&](int64_t begin, int64_t end) { dequant_rows(table, w, x, n_tok, y, begin, end); });
    return;
  }
  if (k->fdot != nullptr) {
    for_rows([&](int64_t begin, int64_t end) {
      k->fdot(w.data + begin * w.row_bytes, w.row_bytes, end - begin, x, w.n_in, n_tok, y + begin,
              w.n_out);
    });
    return;
  }
  // One activation buffer per calling thread (matmul may be called from several engines). The
  // lambdas below run on pool workers too, so they must use this reference: the name of a
  // thread_local would resolve to the worker's own instance.
  thread_local ActQ8Buffer tls_act;
  ActQ8Buffer& act = tls_act;
  act.reserve(w.n_in, n_tok);
  auto quantize = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      table.quantize_act(
          x + t * w.n_in, w.n_in, k->act_offset, k->act_split,
          ActQ8Row{act.qs(t), act.d(t), act.ds(t), act.dl(t), act.bias(t), act.bias2(t)});
    }
  };
  if (pool != nullptr && n_tok > 1) {
    pool->parallel_for(n_tok, 1, [&](int64_t begin, int64_t end, int) { quantize(begin, end); });
  } else {
    quantize(0, n_tok);
  }
  const ActQ8 view = act.view();
  const int64_t tok_block = token_block(w.n_in);
  for_rows([&](int64_t begin, int64_t end) {
    // The chunk's rows stay in L2 while each block of tokens, also L2-sized, goes over them.
    for (int64_t t0 = 0; t0 < n_tok; t0 += tok_block) {
      const int64_t n = std::min(tok_block, n_tok - t0);
      k->qdot(w.data + begin * w.row_bytes, w.row_bytes, end - begin,
              n == n_tok ? view : act_q8_tokens(view, t0, n), y + t0 * w.n_out + begin, w.n_out);
    }
  });
}

}  // namespace

void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool) {
  run(kernel_table(active_kernel_set()), w, x, n_tok, y, &pool);
}

void matmul_with(KernelSet set, const WeightView& w, const float* x, int64_t n_tok, float* y,
                 ThreadPool& pool) {
  run(kernel_table(set), w, x, n_tok, y, &pool);
}

void matmul_ref(const WeightView& w, const float* x, int64_t n_tok, float* y) {
  run(kernel_table(KernelSet::kScalar), w, x, n_tok, y, nullptr);
}

void dequantize_weight_row(const WeightView& w, int64_t row, float* dst) {
  const uint8_t* src = w.data + static_cast<uint64_t>(row) * w.row_bytes;
  if (quant::is_scaled_codes(w.type)) {
    quant::dequantize_scaled_row(w.type, src, w.scales + row * (w.n_in / w.group), w.group, dst,
                                 w.n_in);
  } else {
    quant::dequantize_row_ref(w.type, src, dst, w.n_in);
  }
}

const char* kernel_set_name() {
  return kernel_set_name(active_kernel_set());
}

}  // namespace gemmad::kernels
