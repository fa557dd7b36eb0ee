// gemmad's configuration: defaults < config file (TOML) < command-line flags. Every key is
// documented in config/gemmad.toml. Unknown keys and bad values are errors naming the key and
// the line; --print-config shows each value and where it came from.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace gemmad::daemon {

struct Config {
  // [model]
  std::string model_path;
  int threads = 0;                 // 0 = all cores
  std::string kv_type = "f16";     // f16 | f32
  uint32_t context_length = 4096;  // tokens per sequence (prompt + completion)
  uint32_t max_sequences = 4;      // sequences decoded together (KV slots)

  // [server]
  std::string socket_path;
  uint32_t socket_mode = 0660;
  uint32_t max_clients = 64;
  uint32_t max_frame_bytes = 4u << 20;
  uint32_t max_requests_per_client = 4;
  uint32_t max_queued_requests = 64;
  uint32_t handshake_timeout_ms = 5000;
  uint32_t stream_queue_frames = 256;  // per-stream bound before that stream pauses

  // [store]
  std::string state_dir;
  std::string database_path;
  uint32_t max_sessions_per_app = 1000;
  uint32_t max_message_bytes = 256u << 10;
  uint32_t max_prompt_tokens = 3072;
  uint32_t session_cache = 4;  // sessions whose KV stays in memory between turns

  // [scheduler]
  uint32_t prefill_chunk = 64;  // prompt tokens per step, interleaved with decode

  // [privacy]
  std::string admin_group = "gemmad-admin";
  bool log_content = false;    // prompts/completions in logs only when true
  bool network_filter = true;  // seccomp: no socket but AF_UNIX (network_policy.h)
  bool landlock = true;        // Landlock: own dirs only, no TCP (landlock_policy.h)

  // [log]
  std::string log_level = "info";

  // key ("model.path") -> "default" | "FILE:LINE" | "--flag"
  std::map<std::string, std::string> source;
};

// Overrides given on the command line, applied after the file.
struct FlagOverrides {
  std::string config_file;
  std::string socket_path;
  std::string model_path;
  std::string state_dir;
};

// Default locations (user mode unless running as root): DESIGN.md "Files and places".
std::string default_config_path();
// The socket: ipc::default_listen_path, the same rule gemmactl resolves with.
std::string default_socket_path();
std::string default_state_dir();

// Builds the effective config. A missing explicitly-given config file is an error; a missing
// default one is not.
Result<Config> load_config(const FlagOverrides& flags);
// Parses TOML text (exposed for tests): `name` is used in messages.
Status apply_toml(Config& c, const std::string& text, const std::string& name);

// Human-readable dump: `key = value    # source`.
std::string print_config(const Config& c);

}  // namespace gemmad::daemon
