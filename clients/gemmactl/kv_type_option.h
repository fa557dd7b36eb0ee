// The `--kv-type PRESET` option of the offline verbs (runtime/kv_cache_type.h): validated by
// the parser itself, so a bad preset is a usage error that lists what is accepted.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "runtime/kv_cache_type.h"

namespace gemmad::ctl {

inline CLI::Option* add_kv_type_option(CLI::App* sub, std::string& value,
                                       const char* name = "--kv-type",
                                       const char* what = "KV cache type") {
  const std::string help = std::string(what) +
                           ": f16, f32, q8, q4, mobile (sliding q8 + full q4) or "
                           "sliding:T,full:T";
  return sub->add_option(name, value, help)
      ->check(CLI::Validator(
          [](std::string& s) {
            auto r = runtime::parse_kv_types(s);
            return r.ok() ? std::string() : r.error().message;
          },
          "PRESET"))
      ->capture_default_str();
}

// The types of a preset the option has already validated.
inline runtime::KvTypes kv_types_of(const std::string& preset) {
  auto r = runtime::parse_kv_types(preset);
  return r.ok() ? *r : runtime::KvTypes{};
}

}  // namespace gemmad::ctl
