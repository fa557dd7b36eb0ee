// libFuzzer target: well-framed, arbitrary ClientMessages against a live router (the real
// Router, TurnService, Scheduler, SessionStore and ipc::Server on a Unix socket, one tiny
// synthetic model), asserting the protocol's promise: every request gets exactly one final
// reply (anything but Token), or the connection ends with a request_id 0 Error.
//
// Input: a sequence of [u16 little-endian length][bytes] records; each that parses as a
// ClientMessage is sent, after a valid Hello, with request_id 2, 3, ... (the fuzzer chooses the
// bodies, the harness keeps ids distinct so replies can be counted) and generation clamped to
// a few tokens so an input runs in milliseconds.
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/config.h"
#include "daemon/model_registry.h"
#include "daemon/router.h"
#include "daemon/scheduler.h"
#include "daemon/turn_service_impl.h"
#include "ipc/frame_codec.h"
#include "ipc/protocol.h"
#include "ipc/server.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "store/session_store.h"
#include "synth/synth_model.h"

namespace {

using namespace gemmad;

void quiet(google::protobuf::LogLevel, const char*, int, const std::string&) {}

// The daemon, built once per process as main.cpp builds it.
struct Live {
  std::string dir, socket;
  daemon::Config cfg;
  std::unique_ptr<daemon::ModelRegistry> registry;
  std::unique_ptr<store::SessionStore> store;
  std::unique_ptr<kernels::ThreadPool> pool;
  std::unique_ptr<daemon::Scheduler> scheduler;
  boost::asio::io_context io;
  std::unique_ptr<daemon::TurnServiceImpl> turns;
  std::unique_ptr<daemon::Router> router;
  std::unique_ptr<ipc::Server> server;
  std::thread io_thread;

  Live() {
    spdlog::set_level(spdlog::level::off);
    google::protobuf::SetLogHandler(quiet);
    char tmpl[] = "/tmp/gemmad-fuzz-router-XXXXXX";
    dir = mkdtemp(tmpl);
    socket = dir + "/gemmad.sock";
    synth::SynthOptions synth_options;
    synth_options.seed = 7;
    if (!synth::write_synthetic_model(synth_options, dir + "/tiny.gguf").ok()) std::abort();
    std::ofstream(dir + "/gemmad.toml")
        << "model.path = \"" << dir << "/tiny.gguf\"\nmodel.threads = 1\n"
        << "model.context_length = 256\nmodel.max_sequences = 2\nstore.max_prompt_tokens = 200\n"
        << "privacy.network_filter = false\n";
    daemon::FlagOverrides flags;
    flags.config_file = dir + "/gemmad.toml";
    flags.socket_path = socket;
    flags.state_dir = dir;
    auto loaded = daemon::load_config(flags);
    if (!loaded.ok() || !kernels::init_kernels().ok()) std::abort();
    cfg = *loaded;
    registry = std::make_unique<daemon::ModelRegistry>(cfg);
    if (!registry->load_all().ok()) std::abort();
    auto opened = store::SessionStore::open(cfg.database_path);
    if (!opened.ok()) std::abort();
    store = std::move(opened).value();
    pool = std::make_unique<kernels::ThreadPool>(1);
    daemon::SchedulerOptions so;
    so.max_active = cfg.max_sequences;
    so.max_active_per_group = cfg.max_sequences_per_uid;
    so.max_queued_per_group = cfg.max_queued_per_uid;
    scheduler = std::make_unique<daemon::Scheduler>(*pool, so);
    turns = std::make_unique<daemon::TurnServiceImpl>(io, cfg, *registry, *store, *scheduler);
    router = std::make_unique<daemon::Router>(cfg, *registry, *turns, *store, "fuzz");
    ipc::ServerOptions options;
    options.max_frame_bytes = cfg.max_frame_bytes;
    auto listening = ipc::Server::listen(io, socket, options, router->handlers());
    if (!listening.ok()) std::abort();
    server = std::move(listening).value();
    router->set_server(server.get());
    server->start();
    io_thread = std::thread([this] { io.run(); });
  }
};

Live& live() {
  static Live* l = new Live();  // never destroyed: threads outlive main's return
  return *l;
}

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) std::abort();
  timeval tv{20, 0};  // a missing reply is a hang: fail loudly instead
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the daemon closed the connection (a protocol error): fine
    done += static_cast<size_t>(n);
  }
}

// Keeps a request fast whatever the fuzzer put in it.
void clamp(v1::ClientMessage& m) {
  auto clamp_sampling = [](v1::SamplingParams* s) {
    s->set_max_tokens(1 + s->max_tokens() % 3);
    s->set_ignore_eos(false);
  };
  if (m.has_chat()) clamp_sampling(m.mutable_chat()->mutable_sampling());
  if (m.has_generate()) clamp_sampling(m.mutable_generate()->mutable_sampling());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Live& l = live();
  std::vector<v1::ClientMessage> requests;
  for (size_t pos = 0; pos + 2 <= size && requests.size() < 16;) {
    const size_t n = data[pos] | (size_t{data[pos + 1]} << 8);
    pos += 2;
    if (n > size - pos) break;
    v1::ClientMessage m;
    if (m.ParseFromArray(data + pos, static_cast<int>(n))) {
      m.set_request_id(2 + requests.size());
      clamp(m);
      requests.push_back(std::move(m));
    }
    pos += n;
  }
  const int fd = connect_to(l.socket);
  v1::ClientMessage hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_app_name("fuzz");
  hello.mutable_hello()->set_protocol_version(ipc::kProtocolVersion);
  std::string bytes = *ipc::encode_message_frame(hello, l.cfg.max_frame_bytes);
  for (const auto& m : requests) {
    auto f = ipc::encode_message_frame(m, l.cfg.max_frame_bytes);
    if (f.ok()) bytes += *f;
  }
  send_all(fd, bytes);
  // Final replies per request id; Hello is id 1.
  std::map<uint64_t, int> finals;
  const size_t expected = requests.size() + 1;
  ipc::FrameDecoder decoder(1u << 30);
  bool connection_ended = false;
  char buf[65536];
  while (finals.size() < expected && !connection_ended) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      // EOF only after a request_id 0 Error (checked below); a timeout is a lost reply.
      if (n < 0) __builtin_trap();
      break;
    }
    if (!decoder.feed(std::string_view(buf, static_cast<size_t>(n))).ok()) __builtin_trap();
    while (auto frame = decoder.next_frame()) {
      auto reply = ipc::parse_server_message(*frame);
      if (!reply.ok()) __builtin_trap();
      if (reply->has_token()) continue;
      if (reply->request_id() == 0) {
        connection_ended = true;  // the daemon ended the connection, and said why
        continue;
      }
      if (reply->request_id() > expected) __builtin_trap();     // a reply to nothing sent
      if (++finals[reply->request_id()] > 1) __builtin_trap();  // two final replies
    }
  }
  if (!connection_ended && finals.size() < expected) __builtin_trap();
  ::close(fd);
  return 0;
}
