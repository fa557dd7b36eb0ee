// libFuzzer target for the safetensors header parser (engine/import/safetensors.h): parse
// arbitrary bytes as a file, then touch the first and last byte of every tensor a successful
// parse promises lies within the data section. Seeds: tests/fuzz/seeds/safetensors.
#include <cstddef>
#include <cstdint>
#include <span>

#include "import/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  auto r = gemmad::import::parse_safetensors_header(bytes, size, "fuzz.safetensors");
  if (!r.ok()) return 0;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | data[i];
  volatile uint8_t sink = 0;
  for (const gemmad::import::StTensor& t : *r) {
    if (t.end == t.begin) continue;
    sink = sink ^ data[8 + n + t.begin] ^ data[8 + n + t.end - 1];
  }
  return 0;
}
