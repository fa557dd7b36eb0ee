// gemmad's configuration: defaults < config file (TOML) < command-line flags. Every key is
// documented in config/gemmad.toml. Unknown keys and bad values are errors naming the key and
// the line; --print-config shows each value and where it came from.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/media/media_limits.h"

namespace gemmad::daemon {

// One servable model: [[models]] entries, model.path, or --model FILE.
struct ModelConfig {
  std::string name;            // what requests name; default: the file's stem
  std::string path;            // GGUF file
  int64_t keep_alive_ms = -2;  // -2: model.keep_alive; -1: never unmapped; else idle ms
  std::string source;          // "FILE:LINE" | "--model"
  std::string mmproj;          // its vision/audio encoders (an mmproj GGUF); empty: text only
};

// "5m", "30s", "1h", "250ms", "0", "-1" (never); a bare integer is seconds. Errors name
// the value.
Result<int64_t> parse_keep_alive(const std::string& text);

struct Config {
  // [model]
  std::string model_path;           // the first model (model.path); see `models`
  int threads = 0;                  // 0 = all cores
  std::string kv_type = "f16";      // preset per layer type (runtime/kv_cache_type.h)
  uint32_t context_length = 32768;  // tokens per sequence (prompt + completion)
  uint32_t max_sequences = 4;       // sequences decoded together (KV slots)
  std::string keep_alive = "5m";    // idle time before a model is unmapped ("-1": never)
  int64_t keep_alive_ms = 300000;   // parsed keep_alive
  std::string model_mmproj;         // model.path's encoders (mmproj GGUF); [[models]] have own
  std::string models_dir;           // listed by `gemmactl model ls`; default <state_dir>/models
  // Every servable model, the first being the default: model.path, then [[models]]; or
  // only the --model flags when given. load_config fills names and keep_alive.
  std::vector<ModelConfig> models;

  // [server]
  std::string socket_path;
  uint32_t socket_mode = 0660;
  uint32_t max_clients = 64;
  uint32_t max_frame_bytes = 4u << 20;
  uint32_t max_requests_per_client = 4;
  uint32_t max_queued_requests = 64;
  uint32_t handshake_timeout_ms = 5000;
  uint32_t stream_queue_frames = 256;  // per-stream bound before that stream pauses
  // Hostile-neighbour limits (docs/ARCHITECTURE.md "Limits and who they protect").
  uint32_t max_clients_per_uid = 32;      // connections one uid may hold
  uint32_t idle_timeout_ms = 300000;      // after Hello, no request in flight; 0 = never
  uint32_t frame_timeout_ms = 10000;      // first byte of a frame to its last; 0 = never
  uint32_t write_timeout_ms = 30000;      // a peer that takes no data; 0 = never
  uint32_t max_requests_per_uid = 16;     // turns in flight, all connections of a uid
  uint32_t max_queued_per_uid = 32;       // turns waiting for a slot, per uid; 0 = no bound
  uint32_t max_sequences_per_uid = 3;     // KV slots one uid holds; 0 = model.max_sequences
  uint32_t max_pause_ms = 60000;          // a stream its client does not read; 0 = never
  uint32_t socket_send_buffer_bytes = 0;  // SO_SNDBUF of client sockets; 0 = system default

  // [store]
  std::string state_dir;
  std::string database_path;
  uint32_t max_sessions_per_app = 1000;
  uint32_t max_message_bytes = 256u << 10;
  uint32_t max_prompt_tokens = 0;  // 0: the context minus the reply's reserve
  uint32_t session_cache = 4;      // sessions whose KV stays in memory between turns
  // Saved KV files (<state_dir>/kv, docs/KV_CACHE.md "Saved KV"): MiB overall and per app;
  // saved_kv_mb = 0 turns saving off.
  uint32_t saved_kv_mb = 4096;
  uint32_t saved_kv_mb_per_app = 1024;

  // [scheduler]
  uint32_t prefill_chunk = 64;  // prompt tokens per step, interleaved with decode

  // [privacy]
  std::string admin_group = "gemmad-admin";
  bool log_content = false;    // prompts/completions in logs only when true
  bool network_filter = true;  // seccomp: no socket but AF_UNIX (network_policy.h)
  bool landlock = true;        // Landlock: own dirs only, no TCP (landlock_policy.h)

  // [log]
  std::string log_level = "info";

  // [http] the OpenAI-compatible front-end (daemon/http/). Its socket defaults to the main
  // socket's directory: gemmad-http.sock (user mode), http.sock (root).
  bool http_enabled = true;
  std::string http_socket_path;
  uint32_t http_max_connections = 64;
  uint32_t http_max_header_bytes = 16u << 10;
  uint32_t http_max_body_bytes = 4u << 20;
  uint32_t http_header_timeout_ms = 10000;        // first byte to end of header (slowloris)
  uint32_t http_idle_timeout_ms = 60000;          // keep-alive idle, and a stalled body
  uint32_t http_stream_queue_bytes = 256u << 10;  // per stream, before it pauses

  // [media] images and audio in requests (daemon/media/, docs/ARCHITECTURE.md "Media").
  uint32_t media_encoder_idle_s = 60;  // an encoder unused this long has its pages released
  uint32_t media_max_image_bytes = 3u << 20;
  uint32_t media_max_image_pixels = 16u << 20;
  uint32_t media_max_audio_bytes = 3u << 20;
  uint32_t media_max_audio_seconds = 30;
  uint32_t media_max_media_per_request = 8;       // 0: requests may carry no media
  uint32_t media_max_bytes_per_app = 256u << 20;  // stored media of one app, all sessions

  // key ("model.path") -> "default" | "FILE:LINE" | "--flag"
  std::map<std::string, std::string> source;
};

// Overrides given on the command line, applied after the file.
struct FlagOverrides {
  std::string config_file;
  std::string socket_path;
  std::vector<std::string> model_paths;   // --model, repeatable
  std::vector<std::string> mmproj_paths;  // parallel to model_paths; "" = no --mmproj
  std::string state_dir;
  std::string http_socket_path;
};

// Default locations (user mode unless running as root): docs/DESIGN.md "Files and places".
std::string default_config_path();
// The socket: ipc::default_listen_path, the same rule gemmactl resolves with.
std::string default_socket_path();
std::string default_state_dir();
// The HTTP socket next to `main_socket`: gemmad-http.sock, or http.sock when root.
std::string default_http_socket_path(const std::string& main_socket);

// Builds the effective config. A missing explicitly-given config file is an error; a missing
// default one is not.
Result<Config> load_config(const FlagOverrides& flags);
// Parses TOML text (exposed for tests): `name` is used in messages.
Status apply_toml(Config& c, const std::string& text, const std::string& name);

// --model and --mmproj in command-line order ({flag, value} pairs): each --mmproj belongs to
// the --model before it; one before any --model, or two for one model, is an error.
Status apply_model_flags(FlagOverrides& flags,
                         const std::vector<std::pair<std::string, std::string>>& in_order);

// The decoders' limits from [media].
media::MediaLimits media_limits(const Config& c);

// Human-readable dump: `key = value    # source`.
std::string print_config(const Config& c);

}  // namespace gemmad::daemon
