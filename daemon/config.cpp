// Config loading: a table of keys (section.key, type, range, member) drives parsing,
// validation, defaults and --print-config, so a key is declared once.
#include "daemon/config.h"

#include <unistd.h>

#include <toml++/toml.h>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <variant>

#include "ipc/socket_path.h"

namespace gemmad::daemon {
namespace {

struct UIntKey {
  uint32_t Config::*member;
  uint32_t lo, hi;
};
struct IntKey {
  int Config::*member;
  int lo, hi;
};
struct StrKey {
  std::string Config::*member;
  std::vector<std::string> allowed;  // empty = any
};
struct BoolKey {
  bool Config::*member;
};
struct KeySpec {
  const char* name;  // "section.key"
  std::variant<UIntKey, IntKey, StrKey, BoolKey> kind;
};

const std::vector<KeySpec>& keys() {
  static const std::vector<KeySpec> k = {
      {"model.path", StrKey{&Config::model_path, {}}},
      {"model.threads", IntKey{&Config::threads, 0, 256}},
      {"model.kv_type", StrKey{&Config::kv_type, {"f16", "f32"}}},
      {"model.context_length", UIntKey{&Config::context_length, 64, 131072}},
      {"model.max_sequences", UIntKey{&Config::max_sequences, 1, 64}},
      {"server.socket", StrKey{&Config::socket_path, {}}},
      {"server.socket_mode", UIntKey{&Config::socket_mode, 0, 0777}},
      {"server.max_clients", UIntKey{&Config::max_clients, 1, 4096}},
      {"server.max_frame_bytes", UIntKey{&Config::max_frame_bytes, 1024, 64u << 20}},
      {"server.max_requests_per_client", UIntKey{&Config::max_requests_per_client, 1, 256}},
      {"server.max_queued_requests", UIntKey{&Config::max_queued_requests, 1, 65536}},
      {"server.handshake_timeout_ms", UIntKey{&Config::handshake_timeout_ms, 100, 600000}},
      {"server.stream_queue_frames", UIntKey{&Config::stream_queue_frames, 4, 1u << 20}},
      {"store.state_dir", StrKey{&Config::state_dir, {}}},
      {"store.database", StrKey{&Config::database_path, {}}},
      {"store.max_sessions_per_app", UIntKey{&Config::max_sessions_per_app, 1, 1u << 24}},
      {"store.max_message_bytes", UIntKey{&Config::max_message_bytes, 16, 16u << 20}},
      {"store.max_prompt_tokens", UIntKey{&Config::max_prompt_tokens, 16, 131072}},
      {"store.session_cache", UIntKey{&Config::session_cache, 0, 1024}},
      {"scheduler.prefill_chunk", UIntKey{&Config::prefill_chunk, 1, 8192}},
      {"privacy.admin_group", StrKey{&Config::admin_group, {}}},
      {"privacy.log_content", BoolKey{&Config::log_content}},
      {"privacy.network_filter", BoolKey{&Config::network_filter}},
      {"privacy.landlock", BoolKey{&Config::landlock}},
      {"log.level", StrKey{&Config::log_level, {"trace", "debug", "info", "warn", "error"}}},
  };
  return k;
}

const KeySpec* find_key(const std::string& name) {
  for (const KeySpec& k : keys()) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

bool is_root() {
  return geteuid() == 0;
}

Error key_error(const std::string& where, const std::string& key, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, where + ": key '" + key + "': " + what);
}

// Applies one TOML value to the config member described by `spec`.
Status apply_value(Config& c, const KeySpec& spec, const toml::node& node,
                   const std::string& where) {
  const std::string key = spec.name;
  if (auto* u = std::get_if<UIntKey>(&spec.kind)) {
    auto v = node.value<int64_t>();
    if (!node.is_integer() || !v) return key_error(where, key, "expected an integer");
    if (*v < u->lo || *v > u->hi) {
      return key_error(where, key,
                       "value " + std::to_string(*v) + " outside [" + std::to_string(u->lo) + ", " +
                           std::to_string(u->hi) + "]");
    }
    c.*(u->member) = static_cast<uint32_t>(*v);
  } else if (auto* i = std::get_if<IntKey>(&spec.kind)) {
    auto v = node.value<int64_t>();
    if (!node.is_integer() || !v) return key_error(where, key, "expected an integer");
    if (*v < i->lo || *v > i->hi) {
      return key_error(where, key,
                       "value " + std::to_string(*v) + " outside [" + std::to_string(i->lo) + ", " +
                           std::to_string(i->hi) + "]");
    }
    c.*(i->member) = static_cast<int>(*v);
  } else if (auto* s = std::get_if<StrKey>(&spec.kind)) {
    if (!node.is_string()) return key_error(where, key, "expected a string");
    std::string v = *node.value<std::string>();
    if (!s->allowed.empty()) {
      bool ok = false;
      std::string list;
      for (const auto& a : s->allowed) {
        ok = ok || a == v;
        list += (list.empty() ? "" : ", ") + a;
      }
      if (!ok) return key_error(where, key, "'" + v + "' is not one of: " + list);
    }
    c.*(s->member) = v;
  } else if (auto* b = std::get_if<BoolKey>(&spec.kind)) {
    if (!node.is_boolean()) return key_error(where, key, "expected true or false");
    c.*(b->member) = *node.value<bool>();
  }
  return {};
}

std::string format_member(const Config& c, const KeySpec& spec) {
  if (auto* u = std::get_if<UIntKey>(&spec.kind)) {
    if (std::string(spec.name) == "server.socket_mode") {
      std::ostringstream o;
      o << "0" << std::oct << c.*(u->member);
      return o.str();
    }
    return std::to_string(c.*(u->member));
  }
  if (auto* i = std::get_if<IntKey>(&spec.kind)) return std::to_string(c.*(i->member));
  if (auto* s = std::get_if<StrKey>(&spec.kind)) return "\"" + c.*(s->member) + "\"";
  if (auto* b = std::get_if<BoolKey>(&spec.kind)) return c.*(b->member) ? "true" : "false";
  return "";
}

}  // namespace

std::string default_config_path() {
  if (is_root()) return "/etc/gemmad/gemmad.toml";
  return env_or("XDG_CONFIG_HOME", env_or("HOME", "/tmp") + "/.config") + "/gemmad/gemmad.toml";
}

std::string default_socket_path() {
  return ipc::default_listen_path(ipc::socket_env());
}

std::string default_state_dir() {
  if (is_root()) return "/var/lib/gemmad";
  return env_or("XDG_DATA_HOME", env_or("HOME", "/tmp") + "/.local/share") + "/gemmad";
}

Status apply_toml(Config& c, const std::string& text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return make_error(
        ErrorCode::kInvalidArgument,
        name + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  for (auto&& [section, node] : root) {
    const std::string sec(section.str());
    const std::string where = name + ":" + std::to_string(node.source().begin.line);
    const toml::table* tbl = node.as_table();
    if (!tbl) {
      return make_error(ErrorCode::kInvalidArgument,
                        where + ": '" + sec + "' must be a [section]; every key lives in one");
    }
    for (auto&& [k, v] : *tbl) {
      const std::string full = sec + "." + std::string(k.str());
      const std::string at = name + ":" + std::to_string(v.source().begin.line);
      const KeySpec* spec = find_key(full);
      if (!spec) return key_error(at, full, "unknown key");
      GEMMAD_TRY(apply_value(c, *spec, v, at));
      c.source[full] = at;
    }
  }
  return {};
}

Result<Config> load_config(const FlagOverrides& flags) {
  Config c;
  const bool explicit_file = !flags.config_file.empty();
  const std::string path = explicit_file ? flags.config_file : default_config_path();
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    GEMMAD_TRY(apply_toml(c, ss.str(), path));
  } else if (explicit_file) {
    return make_error(ErrorCode::kInvalidArgument, "config file '" + path + "' cannot be read");
  }
  auto flag = [&](const std::string& value, std::string& member, const char* key,
                  const char* flag_name) {
    if (value.empty()) return;
    member = value;
    c.source[key] = flag_name;
  };
  flag(flags.socket_path, c.socket_path, "server.socket", "--socket");
  flag(flags.model_path, c.model_path, "model.path", "--model");
  flag(flags.state_dir, c.state_dir, "store.state_dir", "--state-dir");

  // Derived defaults.
  if (c.socket_path.empty()) c.socket_path = default_socket_path();
  if (c.state_dir.empty()) c.state_dir = default_state_dir();
  if (c.database_path.empty()) c.database_path = c.state_dir + "/gemmad.db";
  if (c.model_path.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "no model: set [model] path in " + path + " or pass --model FILE");
  }
  if (c.max_prompt_tokens >= c.context_length) {
    return make_error(ErrorCode::kInvalidArgument, "store.max_prompt_tokens (" +
                                                       std::to_string(c.max_prompt_tokens) +
                                                       ") must be below model.context_length (" +
                                                       std::to_string(c.context_length) + ")");
  }
  for (const KeySpec& k : keys())
    c.source.emplace(k.name, "default");
  return c;
}

std::string print_config(const Config& c) {
  std::ostringstream o;
  std::string section;
  for (const KeySpec& k : keys()) {
    const std::string name = k.name;
    const std::string sec = name.substr(0, name.find('.'));
    if (sec != section) {
      o << (section.empty() ? "" : "\n") << "[" << sec << "]\n";
      section = sec;
    }
    auto it = c.source.find(name);
    o << name.substr(name.find('.') + 1) << " = " << format_member(c, k) << "  # "
      << (it == c.source.end() ? "default" : it->second) << "\n";
  }
  return o.str();
}

}  // namespace gemmad::daemon
