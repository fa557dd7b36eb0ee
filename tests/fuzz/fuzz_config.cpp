// libFuzzer target for gemmad's config file: arbitrary text through the TOML parser and the
// table of keys (apply_toml), as `gemmad --config FILE` reads it. A rejected file must say why;
// an accepted one must give a config whose --print-config dump is produced without error, and
// applying the same text twice must give the same config (every key sets, none accumulates).
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  gemmad::daemon::Config once;
  const gemmad::Status st = gemmad::daemon::apply_toml(once, text, "fuzz.toml");
  if (!st.ok()) {
    if (st.error().message.empty()) __builtin_trap();
    return 0;
  }
  gemmad::daemon::Config twice = once;
  if (!gemmad::daemon::apply_toml(twice, text, "fuzz.toml").ok()) __builtin_trap();
  if (gemmad::daemon::print_config(once) != gemmad::daemon::print_config(twice)) __builtin_trap();
  return 0;
}
