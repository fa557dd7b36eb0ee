// Config loading: a table of keys (section.key, type, range, member) drives parsing,
// validation, defaults and --print-config, so a key is declared once.
#include "daemon/config.h"

#include <unistd.h>

#include <toml++/toml.h>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "ipc/socket_path.h"
#include "runtime/kv_cache_type.h"

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
  std::vector<std::string> allowed;               // empty = any
  Status (*check)(const std::string&) = nullptr;  // a parser that validates the value
};

// model.kv_type: a preset per layer type (runtime/kv_cache_type.h).
Status check_kv_type(const std::string& v) {
  auto r = runtime::parse_kv_types(v);
  return r.ok() ? Status{} : Status(std::move(r).error());
}
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
      {"model.kv_type", StrKey{&Config::kv_type, {}, &check_kv_type}},
      {"model.context_length", UIntKey{&Config::context_length, 64, 131072}},
      {"model.max_sequences", UIntKey{&Config::max_sequences, 1, 64}},
      {"model.keep_alive", StrKey{&Config::keep_alive, {}}},
      {"model.models_dir", StrKey{&Config::models_dir, {}}},
      {"model.mmproj", StrKey{&Config::model_mmproj, {}}},
      {"server.socket", StrKey{&Config::socket_path, {}}},
      {"server.socket_mode", UIntKey{&Config::socket_mode, 0, 0777}},
      {"server.max_clients", UIntKey{&Config::max_clients, 1, 4096}},
      {"server.max_frame_bytes", UIntKey{&Config::max_frame_bytes, 1024, 64u << 20}},
      {"server.max_requests_per_client", UIntKey{&Config::max_requests_per_client, 1, 256}},
      {"server.max_queued_requests", UIntKey{&Config::max_queued_requests, 1, 65536}},
      {"server.handshake_timeout_ms", UIntKey{&Config::handshake_timeout_ms, 100, 600000}},
      {"server.stream_queue_frames", UIntKey{&Config::stream_queue_frames, 4, 1u << 20}},
      // Hostile-neighbour limits (docs/ARCHITECTURE.md "Limits and who they protect").
      {"server.max_clients_per_uid", UIntKey{&Config::max_clients_per_uid, 1, 4096}},
      {"server.idle_timeout_ms", UIntKey{&Config::idle_timeout_ms, 0, 86400000}},
      {"server.frame_timeout_ms", UIntKey{&Config::frame_timeout_ms, 0, 600000}},
      {"server.write_timeout_ms", UIntKey{&Config::write_timeout_ms, 0, 600000}},
      {"server.max_requests_per_uid", UIntKey{&Config::max_requests_per_uid, 1, 65536}},
      {"server.max_queued_per_uid", UIntKey{&Config::max_queued_per_uid, 0, 65536}},
      {"server.max_sequences_per_uid", UIntKey{&Config::max_sequences_per_uid, 0, 64}},
      {"server.max_pause_ms", UIntKey{&Config::max_pause_ms, 0, 86400000}},
      {"server.socket_send_buffer_bytes", UIntKey{&Config::socket_send_buffer_bytes, 0, 1u << 30}},
      {"store.state_dir", StrKey{&Config::state_dir, {}}},
      {"store.database", StrKey{&Config::database_path, {}}},
      {"store.max_sessions_per_app", UIntKey{&Config::max_sessions_per_app, 1, 1u << 24}},
      {"store.max_message_bytes", UIntKey{&Config::max_message_bytes, 16, 16u << 20}},
      {"store.max_prompt_tokens", UIntKey{&Config::max_prompt_tokens, 0, 131072}},
      {"store.session_cache", UIntKey{&Config::session_cache, 0, 1024}},
      {"store.saved_kv_mb", UIntKey{&Config::saved_kv_mb, 0, 1u << 24}},
      {"store.saved_kv_mb_per_app", UIntKey{&Config::saved_kv_mb_per_app, 1, 1u << 24}},
      {"scheduler.prefill_chunk", UIntKey{&Config::prefill_chunk, 1, 8192}},
      {"privacy.admin_group", StrKey{&Config::admin_group, {}}},
      {"privacy.log_content", BoolKey{&Config::log_content}},
      {"privacy.network_filter", BoolKey{&Config::network_filter}},
      {"privacy.landlock", BoolKey{&Config::landlock}},
      {"log.level", StrKey{&Config::log_level, {"trace", "debug", "info", "warn", "error"}}},
      {"http.enabled", BoolKey{&Config::http_enabled}},
      {"http.socket", StrKey{&Config::http_socket_path, {}}},
      {"http.max_connections", UIntKey{&Config::http_max_connections, 1, 4096}},
      {"http.max_header_bytes", UIntKey{&Config::http_max_header_bytes, 1024, 1u << 20}},
      {"http.max_body_bytes", UIntKey{&Config::http_max_body_bytes, 1024, 64u << 20}},
      {"http.header_timeout_ms", UIntKey{&Config::http_header_timeout_ms, 100, 600000}},
      {"http.idle_timeout_ms", UIntKey{&Config::http_idle_timeout_ms, 100, 3600000}},
      {"http.stream_queue_bytes", UIntKey{&Config::http_stream_queue_bytes, 4096, 64u << 20}},
      {"media.encoder_idle_s", UIntKey{&Config::media_encoder_idle_s, 0, 86400}},
      {"media.max_image_bytes", UIntKey{&Config::media_max_image_bytes, 1024, 64u << 20}},
      {"media.max_image_pixels", UIntKey{&Config::media_max_image_pixels, 64, 64u << 20}},
      {"media.max_audio_bytes", UIntKey{&Config::media_max_audio_bytes, 1024, 64u << 20}},
      // The audio encoder takes at most 30 s (750 tokens, docs/ARCHITECTURE.md "Media").
      {"media.max_audio_seconds", UIntKey{&Config::media_max_audio_seconds, 1, 30}},
      {"media.max_media_per_request", UIntKey{&Config::media_max_media_per_request, 0, 64}},
      {"media.max_bytes_per_app", UIntKey{&Config::media_max_bytes_per_app, 0, 4095u << 20}},
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
    if (s->check != nullptr) {
      if (Status st = s->check(v); !st.ok()) return key_error(where, key, st.error().message);
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

// One [[models]] table: name, path, keep_alive.
Result<ModelConfig> parse_model_table(const toml::table& t, const std::string& where) {
  ModelConfig m;
  m.source = where;
  for (auto&& [k, v] : t) {
    const std::string key = "models." + std::string(k.str());
    const std::string at =
        where.substr(0, where.rfind(':')) + ":" + std::to_string(v.source().begin.line);
    if (k.str() == "name" || k.str() == "path" || k.str() == "mmproj") {
      if (!v.is_string()) return key_error(at, key, "expected a string");
      (k.str() == "name"   ? m.name
       : k.str() == "path" ? m.path
                           : m.mmproj) = *v.value<std::string>();
    } else if (k.str() == "keep_alive") {
      std::string text;
      if (v.is_integer()) {
        text = std::to_string(*v.value<int64_t>());
      } else if (v.is_string()) {
        text = *v.value<std::string>();
      } else {
        return key_error(at, key, "expected a duration such as \"5m\" or -1");
      }
      auto ms = parse_keep_alive(text);
      if (!ms.ok()) return key_error(at, key, ms.error().message);
      m.keep_alive_ms = *ms;
    } else {
      return key_error(at, key, "unknown key (name, path, mmproj, keep_alive)");
    }
  }
  if (m.path.empty()) return key_error(where, "models.path", "missing");
  return m;
}

}  // namespace

Result<int64_t> parse_keep_alive(const std::string& text) {
  if (text == "-1") return int64_t{-1};
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  const std::string unit = text.substr(digits);
  int64_t scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60000;
  } else if (unit == "h") {
    scale = 3600000;
  }
  if (digits == 0 || digits > 9 || scale == 0) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "keep_alive '" + text +
            "' is not a duration (N, Nms, Ns, Nm, Nh with N < 10^9, or -1 for never)");
  }
  return std::stoll(text.substr(0, digits)) * scale;
}

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

std::string default_http_socket_path(const std::string& main_socket) {
  const auto slash = main_socket.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : main_socket.substr(0, slash);
  return dir + (is_root() ? "/http.sock" : "/gemmad-http.sock");
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
    if (sec == "models") {
      const toml::array* arr = node.as_array();
      if (!arr || !arr->is_array_of_tables()) {
        return make_error(
            ErrorCode::kInvalidArgument,
            where + ": 'models' must be [[models]] tables (name, path, mmproj, keep_alive)");
      }
      // The file's [[models]] replace earlier ones: applying a file twice changes nothing.
      std::vector<ModelConfig> models;
      for (const toml::node& item : *arr) {
        const std::string at = name + ":" + std::to_string(item.source().begin.line);
        GEMMAD_ASSIGN_OR_RETURN(ModelConfig m, parse_model_table(*item.as_table(), at));
        models.push_back(std::move(m));
      }
      c.models = std::move(models);
      continue;
    }
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
  flag(flags.state_dir, c.state_dir, "store.state_dir", "--state-dir");
  flag(flags.http_socket_path, c.http_socket_path, "http.socket", "--http-socket");
  if (!flags.model_paths.empty()) {
    // --model replaces the file's models: flags override the file.
    c.models.clear();
    for (size_t i = 0; i < flags.model_paths.size(); ++i) {
      c.models.push_back({.name = "",
                          .path = flags.model_paths[i],
                          .keep_alive_ms = -2,
                          .source = "--model",
                          .mmproj = i < flags.mmproj_paths.size() ? flags.mmproj_paths[i] : ""});
    }
    c.model_path = flags.model_paths.front();
    c.source["model.path"] = "--model";
  } else if (!c.model_path.empty()) {
    auto it = c.source.find("model.path");
    c.models.insert(c.models.begin(), {.name = "",
                                       .path = c.model_path,
                                       .keep_alive_ms = -2,
                                       .source = it == c.source.end() ? "model.path" : it->second,
                                       .mmproj = c.model_mmproj});
  }
  {
    auto ms = parse_keep_alive(c.keep_alive);
    if (!ms.ok()) return key_error("model.keep_alive", "model.keep_alive", ms.error().message);
    c.keep_alive_ms = *ms;
  }
  for (size_t i = 0; i < c.models.size(); ++i) {
    ModelConfig& m = c.models[i];
    if (m.name.empty()) m.name = std::filesystem::path(m.path).stem().string();
    if (m.keep_alive_ms == -2) m.keep_alive_ms = c.keep_alive_ms;
    for (size_t j = 0; j < i; ++j) {
      if (c.models[j].name == m.name) {
        return make_error(ErrorCode::kInvalidArgument,
                          m.source + ": model name '" + m.name + "' is already used by " +
                              c.models[j].path + " (" + c.models[j].source +
                              "); give one of them a name");
      }
    }
  }
  if (!c.models.empty()) c.model_path = c.models.front().path;

  // Derived defaults.
  if (c.socket_path.empty()) c.socket_path = default_socket_path();
  if (c.state_dir.empty()) c.state_dir = default_state_dir();
  if (c.http_socket_path.empty()) c.http_socket_path = default_http_socket_path(c.socket_path);
  if (c.database_path.empty()) c.database_path = c.state_dir + "/gemmad.db";
  if (c.models_dir.empty()) c.models_dir = c.state_dir + "/models";
  if (c.models.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no model: set [model] path or [[models]] in " +
                                                       path + ", or pass --model FILE");
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

Status apply_model_flags(FlagOverrides& flags,
                         const std::vector<std::pair<std::string, std::string>>& in_order) {
  for (const auto& [flag, value] : in_order) {
    if (flag == "--model") {
      flags.model_paths.push_back(value);
      flags.mmproj_paths.emplace_back();
    } else if (flag == "--mmproj") {
      if (flags.model_paths.empty()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "--mmproj '" + value +
                              "' comes before any --model; it belongs to the --model before it");
      }
      if (!flags.mmproj_paths.back().empty()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "--mmproj '" + value + "': --model '" + flags.model_paths.back() +
                              "' already has --mmproj '" + flags.mmproj_paths.back() + "'");
      }
      flags.mmproj_paths.back() = value;
    }
  }
  return {};
}

media::MediaLimits media_limits(const Config& c) {
  return {.max_image_bytes = c.media_max_image_bytes,
          .max_image_pixels = c.media_max_image_pixels,
          .max_audio_bytes = c.media_max_audio_bytes,
          .max_audio_seconds = c.media_max_audio_seconds,
          .max_media_per_request = c.media_max_media_per_request};
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
  for (const ModelConfig& m : c.models) {
    o << "\n[[models]]  # " << m.source << "\nname = \"" << m.name << "\"\npath = \"" << m.path
      << "\"\nkeep_alive_ms = " << m.keep_alive_ms << "\n";
    if (!m.mmproj.empty()) o << "mmproj = \"" << m.mmproj << "\"\n";
  }
  return o.str();
}

}  // namespace gemmad::daemon
