// gemmad: maps the configured Gemma 4 models, listens on a Unix socket and serves local apps
// until SIGTERM, then drains (running turns finish or are stored as interrupted).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <google/protobuf/stubs/logging.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "chat/chat_format.h"
#include "daemon/config.h"
#include "daemon/http/openai_front_end.h"
#include "daemon/kv_store.h"
#include "daemon/landlock_policy.h"
#include "daemon/lifecycle.h"
#include "daemon/model_registry.h"
#include "daemon/network_policy.h"
#include "daemon/router.h"
#include "daemon/scheduler.h"
#include "daemon/turn_service_impl.h"
#include "ipc/peer_identity.h"
#include "ipc/server.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "runtime/model.h"
#include "store/database_lock.h"
#include "store/session_store.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace gemmad;

// Protobuf logs malformed input (e.g. invalid UTF-8 in a hostile client's string field) on
// stderr by itself; route it to debug so a hostile client cannot flood the journal.
void protobuf_log(google::protobuf::LogLevel, const char*, int, const std::string& message) {
  spdlog::debug("protobuf: {}", message);
}

// Exit codes: 0 clean stop, 1 runtime failure, 2 bad command line or config, 4 bad model.
int fail(const Error& e, int code) {
  spdlog::error("{}", e.message);
  return code;
}

void schedule_watchdog(boost::asio::steady_timer& timer, std::chrono::milliseconds every) {
  timer.expires_after(every);
  timer.async_wait([&timer, every](const boost::system::error_code& ec) {
    if (ec) return;
    daemon::notify_watchdog();
    schedule_watchdog(timer, every);
  });
}

// privacy.landlock: read the model's directory, write the state and database directories,
// create the socket; the state for Status. SQLite's temporary files go to the database's
// directory (SQLITE_TMPDIR), the one place it may write.
Result<std::string> install_landlock(const daemon::Config& cfg, bool own_socket) {
  if (!cfg.landlock) {
    spdlog::warn("privacy: landlock off (privacy.landlock = false)");
    return std::string("off (privacy.landlock = false)");
  }
  const std::string db_dir = std::filesystem::absolute(cfg.database_path).parent_path().string();
  setenv("SQLITE_TMPDIR", db_dir.c_str(), 0);
  daemon::LandlockPaths paths = daemon::system_paths();
  // Every configured model (several models: each is mapped again after keep_alive), and the
  // models directory `gemmactl model ls` lists.
  std::string model_dirs;
  for (const auto& m : cfg.models) {
    const std::string dir = std::filesystem::absolute(m.path).parent_path().string();
    paths.read.push_back(dir);
    model_dirs += (model_dirs.empty() ? "" : ", ") + dir;
    // Its mmproj is mapped lazily, after the policy is in force (daemon/media/).
    if (!m.mmproj.empty()) {
      paths.read.push_back(std::filesystem::absolute(m.mmproj).parent_path().string());
    }
  }
  if (cfg.models.empty() && !cfg.model_path.empty()) {
    model_dirs = std::filesystem::absolute(cfg.model_path).parent_path().string();
    paths.read.push_back(model_dirs);
  }
  paths.read.push_back(cfg.models_dir.empty() ? cfg.state_dir + "/models" : cfg.models_dir);
  paths.write.push_back(cfg.state_dir);
  paths.write.push_back(db_dir);
  if (own_socket) {
    paths.socket_dirs.push_back(std::filesystem::path(cfg.socket_path).parent_path().string());
  }
  // The HTTP socket is created by gemmad unless systemd passed it; its directory either way
  // (an adopted socket needs no rights here).
  if (cfg.http_enabled && !cfg.http_socket_path.empty()) {
    paths.socket_dirs.push_back(std::filesystem::path(cfg.http_socket_path).parent_path().string());
  }
  GEMMAD_ASSIGN_OR_RETURN(daemon::LandlockState state, daemon::install_landlock_policy(paths));
  if (state.abi == 0) {
    spdlog::warn("privacy: landlock {}", state.description);
  } else {
    spdlog::info("privacy: {} (reads {}, writes {} and {})", state.description, model_dirs,
                 cfg.state_dir, db_dir);
  }
  return state.description;
}

// Milliseconds spent in each start-up step, logged with "ready in" (docs/PERFORMANCE.md
// "Start to READY"): where start time goes, on every start, without a profiler.
class StartPhases {
 public:
  void mark(const char* name) {
    const auto now = std::chrono::steady_clock::now();
    text_ += fmt::format("{}{} {:.0f}", text_.empty() ? "" : ", ", name,
                         std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }
  const std::string& text() const { return text_; }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::string text_;
};

int run(const daemon::Config& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  StartPhases phases;
  // The no-network policy comes first, before any thread starts or any library loads a file:
  // from here on the kernel refuses this process every socket but AF_UNIX.
  if (cfg.network_filter) {
    if (Status st = daemon::install_no_network_policy(); !st.ok()) {
      return fail(
          make_error(st.error().code, st.error().message +
                                          " (privacy.network_filter = false runs without it, e.g. "
                                          "under qemu-user, where seccomp cannot load)"),
          1);
    }
    spdlog::info("privacy: network filter on, only AF_UNIX sockets (seccomp)");
  } else {
    spdlog::warn("privacy: network filter off (privacy.network_filter = false)");
  }
  // The kernel set ($GEMMAD_KERNELS or the best the CPU has), chosen once before any matmul.
  if (auto ks = kernels::init_kernels(); !ks.ok()) return fail(ks.error(), 2);
  phases.mark("filter+kernels");
  // Every configured model is mapped once at start-up (a bad file exits 4 now rather than
  // failing a request later); keep_alive unmaps idle ones afterwards.
  daemon::ModelRegistry registry(cfg);
  if (Status st = registry.load_all(); !st.ok()) return fail(st.error(), 4);
  phases.mark("models");
  for (const auto& s : registry.states()) {
    if (auto m = s.alive.lock()) {
      for (const auto& note : m->model->shape_notes())
        spdlog::warn("model {}: {}", s.config.name, note);
    }
  }

  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cfg.database_path).parent_path(), ec);
  // One daemon per database: a second one refuses to start rather than share it.
  auto lock_r = store::DatabaseLock::acquire(cfg.database_path);
  if (!lock_r.ok()) return fail(lock_r.error(), 1);
  const store::DatabaseLock db_lock = std::move(lock_r).value();
  store::StoreOptions sopts;
  sopts.log_error = [](std::string_view line) { spdlog::error("{}", line); };
  sopts.limits.max_sessions_per_app = cfg.max_sessions_per_app;
  sopts.limits.max_media_bytes_per_app = cfg.media_max_bytes_per_app;
  sopts.limits.max_media_bytes = std::max(cfg.media_max_image_bytes, cfg.media_max_audio_bytes);
  sopts.limits.max_message_bytes = std::max<size_t>(cfg.max_message_bytes, 1u << 20);
  auto store_r = store::SessionStore::open(cfg.database_path, sopts);
  if (!store_r.ok()) return fail(store_r.error(), 1);
  std::unique_ptr<store::SessionStore> store = std::move(store_r).value();
  phases.mark("store");

  // Landlock binds only the calling thread and the threads it starts later, so it goes here:
  // after the model is mapped and the store is open, before the first thread.
  const std::optional<int> activated_fd = daemon::activated_socket();
  if (!activated_fd) {
    std::filesystem::create_directories(std::filesystem::path(cfg.socket_path).parent_path(), ec);
  }
  // Landlock lets gemmad write files in the state directory, not make directories there.
  if (cfg.saved_kv_mb > 0) ::mkdir((cfg.state_dir + "/kv").c_str(), 0700);
  auto landlock_r = install_landlock(cfg, !activated_fd);
  if (!landlock_r.ok()) return fail(landlock_r.error(), 1);
  phases.mark("landlock");

  // Saved KV (docs/KV_CACHE.md "Saved KV"); opened after Landlock so its writer thread is
  // bound too. A directory that is not ours turns saving off, not the daemon.
  std::unique_ptr<daemon::KvStore> kv_store;
  if (cfg.saved_kv_mb > 0) {
    auto kv_r =
        daemon::KvStore::open({.dir = cfg.state_dir + "/kv",
                               .max_bytes = uint64_t{cfg.saved_kv_mb} << 20,
                               .max_bytes_per_app = uint64_t{cfg.saved_kv_mb_per_app} << 20});
    if (kv_r.ok()) {
      kv_store = std::move(kv_r).value();
    } else {
      spdlog::warn("saved KV off: {}", kv_r.error().message);
    }
  }

  phases.mark("saved KV");
  kernels::ThreadPool pool(cfg.threads);
  daemon::SchedulerOptions so;
  so.max_active = cfg.max_sequences;
  so.session_cache = cfg.session_cache;
  so.prefill_chunk = cfg.prefill_chunk;
  so.max_queued = cfg.max_queued_requests;
  so.max_active_per_group = cfg.max_sequences_per_uid;
  so.max_queued_per_group = cfg.max_queued_per_uid;
  so.max_pause = std::chrono::milliseconds(cfg.max_pause_ms);
  so.kv_store = kv_store.get();
  if (auto kv_types = runtime::parse_kv_types(cfg.kv_type); kv_types.ok()) {
    so.kv_type = *kv_types;  // validated with the config; the check keeps this total
  }
  daemon::Scheduler scheduler(pool, so);

  boost::asio::io_context io;
  daemon::TurnServiceImpl turns(io, cfg, registry, *store, scheduler);
  daemon::Router router(cfg, registry, turns, *store, kernels::kernel_set_name());
  ipc::ServerOptions io_opts;
  io_opts.max_frame_bytes = cfg.max_frame_bytes;
  io_opts.max_clients = cfg.max_clients;
  io_opts.max_clients_per_uid = cfg.max_clients_per_uid;
  io_opts.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
  io_opts.frame_timeout = std::chrono::milliseconds(cfg.frame_timeout_ms);
  io_opts.write_timeout = std::chrono::milliseconds(cfg.write_timeout_ms);
  io_opts.socket_send_buffer_bytes = static_cast<int>(cfg.socket_send_buffer_bytes);
  io_opts.handshake_timeout = std::chrono::milliseconds(cfg.handshake_timeout_ms);
  io_opts.socket_mode = static_cast<mode_t>(cfg.socket_mode);
  io_opts.send_queue_soft_frames = cfg.stream_queue_frames;
  io_opts.send_queue_hard_frames = cfg.stream_queue_frames * 16;
  ipc::ServerHandlers handlers = router.handlers();
  handlers.log = [](std::string_view line) { spdlog::warn("ipc: {}", line); };

  Result<std::unique_ptr<ipc::Server>> server_r = make_error(ErrorCode::kInternal, "unset");
  if (activated_fd) {
    server_r = ipc::Server::adopt(io, *activated_fd, io_opts, handlers);
  } else {
    server_r = ipc::Server::listen(io, cfg.socket_path, io_opts, handlers);
  }
  if (!server_r.ok()) return fail(server_r.error(), 1);
  std::unique_ptr<ipc::Server> server = std::move(server_r).value();
  router.set_server(server.get());
  router.set_landlock(*landlock_r);
  router.set_kv_store(kv_store.get());
  server->start();
  // The OpenAI-compatible HTTP socket (daemon/http/); null when http.enabled = false.
  auto http_r =
      http::HttpFrontEnd::start(io, cfg, turns, [&] { return server->connection_count(); });
  if (!http_r.ok()) return fail(http_r.error(), 1);
  std::unique_ptr<http::HttpFrontEnd> http_front = std::move(http_r).value();

  // Per-uid isolation and limits rest on SO_PEERCRED; say whether it sees real uids.
  if (const ipc::IdMapping ids = ipc::read_uid_mapping(); ids.maps_all) {
    spdlog::info("identity: {}", ids.summary);
  } else {
    spdlog::warn("identity: {}", ids.summary);
  }
  phases.mark("sockets");
  const double ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::string served;
  for (const auto& e : turns.models(false)) {
    served += (served.empty() ? "" : ", ") + e.name + " (" + e.variant + ", n_ctx " +
              std::to_string(e.n_ctx) + ")";
  }
  spdlog::info("ready in {:.0f} ms: models {}, socket {}, kernels {}, threads {}", ready_ms, served,
               cfg.socket_path, kernels::kernel_set_name(), pool.size());
  spdlog::info("start phases (ms): {}", phases.text());
  daemon::notify_ready("serving " + cfg.model_path);
  // Off the READY path and off the io and inference threads: the constrained-decoding token
  // index (~1 s for 262,144 tokens), on a thread under this thread's Landlock domain.
  registry.build_token_indexes_in_background();

  boost::asio::steady_timer watchdog(io);
  if (auto every = daemon::watchdog_interval()) schedule_watchdog(watchdog, *every);

  // SIGTERM/SIGINT or a permitted Shutdown request: stop admitting, let running turns finish
  // (bounded), store what was produced, flush the replies, then stop. One drain, whichever
  // comes first.
  std::thread drainer;
  bool draining = false;
  auto begin_drain = [&](const std::string& why) {
    if (draining) return;
    draining = true;
    spdlog::info("{}: draining {} running request(s)", why, turns.in_flight());
    daemon::notify_stopping();
    drainer = std::thread([&] {
      scheduler.stop(10000);
      // Every finished turn is committed (store thread) and its Done sent before closing.
      boost::asio::post(io, [&] {
        turns.when_idle([&] {
          watchdog.cancel();
          if (http_front) http_front->stop();
          server->stop([&] { io.stop(); });
        });
      });
    });
  };
  router.set_shutdown(begin_drain);
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& e, int signo) {
    if (!e) begin_drain("signal " + std::to_string(signo));
  });
  io.run();
  if (drainer.joinable()) drainer.join();
  // The drain is done; what remains is closing the store and unmapping the model. A repeated
  // SIGTERM (an impatient user, a supervisor) must not cut that short with exit 143, so further
  // signals are ignored. clear() restores SIG_DFL, hence the ignore right after it.
  signals.clear();
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  if (kv_store) kv_store->flush();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gemmad: on-device Gemma 4 inference service"};
  app.name("gemmad");
  daemon::FlagOverrides flags;
  bool print_config = false;
  app.add_option("--config", flags.config_file,
                 "config file (default: " + daemon::default_config_path() + ")");
  app.add_option("--socket", flags.socket_path, "Unix socket path");
  std::vector<std::string> model_flags, mmproj_flags;
  CLI::Option* model_opt =
      app.add_option("--model", model_flags,
                     "GGUF model file; repeat for several models (the first is the default; each "
                     "is named by its file stem)");
  CLI::Option* mmproj_opt =
      app.add_option("--mmproj", mmproj_flags,
                     "mmproj GGUF (vision/audio encoders) of the --model before it; repeatable");
  app.add_option("--state-dir", flags.state_dir, "directory of the session database");
  app.add_option("--http-socket", flags.http_socket_path, "OpenAI-compatible HTTP Unix socket");
  app.add_flag("--print-config", print_config, "print the effective config and exit");
  app.set_version_flag("--version", std::string(GEMMAD_VERSION));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  {
    // --mmproj belongs to the --model before it: walk the flags in command-line order.
    std::vector<std::pair<std::string, std::string>> in_order;
    size_t next_model = 0, next_mmproj = 0;
    for (const CLI::Option* opt : app.parse_order()) {
      if (opt == model_opt && next_model < model_flags.size()) {
        in_order.emplace_back("--model", model_flags[next_model++]);
      } else if (opt == mmproj_opt && next_mmproj < mmproj_flags.size()) {
        in_order.emplace_back("--mmproj", mmproj_flags[next_mmproj++]);
      }
    }
    if (Status st = daemon::apply_model_flags(flags, in_order); !st.ok()) {
      std::cerr << "gemmad: " << st.error().message << "\n";
      return 2;
    }
  }
  auto console = spdlog::stderr_color_mt("gemmad");
  spdlog::set_default_logger(console);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  auto cfg = daemon::load_config(flags);
  if (!cfg.ok()) {
    if (print_config) std::cerr << "gemmad: " << cfg.error().message << "\n";
    return fail(cfg.error(), 2);
  }
  if (print_config) {
    std::cout << daemon::print_config(*cfg);
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));
  google::protobuf::SetLogHandler(protobuf_log);
  return run(*cfg);
}
