// Spawning and stopping a real gemmad for integration tests.
#include "daemon_process.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace gemmad::testing {
namespace fs = std::filesystem;

namespace {
// The environment variable if set, else the path CMake compiled in.
std::string env_or(const char* name, const char* built_in) {
  const char* v = std::getenv(name);
  return v && *v ? v : built_in;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

std::string gemmad_binary() {
  return env_or("GEMMAD_BIN", GEMMAD_BIN_PATH);
}
std::string gemmactl_binary() {
  return env_or("GEMMACTL_BIN", GEMMACTL_BIN_PATH);
}

const std::string& tiny_model() {
  static const std::string path = [] {
    const std::string p =
        fs::temp_directory_path() / ("gemmad-it-tiny-" + std::to_string(getpid()) + ".gguf");
    std::string out, err;
    const int rc = run_command({gemmactl_binary(), "model", "synth", "--preset", "tiny", "--quant",
                                "q4_0", "--seed", "7", "-o", p},
                               &out, &err);
    if (rc != 0) throw std::runtime_error("model synth failed: " + err);
    return p;
  }();
  return path;
}

int run_command(const std::vector<std::string>& argv, std::string* out, std::string* err,
                const std::vector<std::string>& env) {
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    for (const auto& e : env)
      putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  // Drain both pipes (poll-free: stderr is small, read it after stdout closes).
  auto drain = [](int fd, std::string* sink) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      if (sink) sink->append(buf, static_cast<size_t>(n));
    }
    close(fd);
  };
  std::thread t([&] { drain(err_pipe[0], err); });
  drain(out_pipe[0], out);
  t.join();
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool seccomp_loads() {
  static const bool loads = [] {
    const pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      // An allow-everything filter: only whether the kernel takes one at all matters.
      sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
      sock_fprog prog = {1, &allow};
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(1);
      _exit(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  return loads;
}

DaemonProcess::DaemonProcess(std::string config) {
  char tmpl[] = "/tmp/gemmad-it-XXXXXX";
  dir_ = mkdtemp(tmpl);
  socket_ = dir_ + "/gemmad.sock";
  config_path_ = dir_ + "/gemmad.toml";
  log_path_ = dir_ + "/gemmad.log";
  // Dotted keys, so a test's extra keys (also dotted) can name any section.
  std::ofstream(config_path_) << "model.path = \"" << tiny_model()
                              << "\"\nmodel.threads = 2\nmodel.context_length = 1024\n"
                              << "store.max_prompt_tokens = 900\n"
                              << (seccomp_loads() ? "" : "privacy.network_filter = false\n")
                              << config;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) kill9();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

bool DaemonProcess::start() {
  const auto t0 = std::chrono::steady_clock::now();
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    std::vector<std::string> argv = wrapper_;
    for (const std::string& a :
         {gemmad_binary(), std::string("--config"), config_path_, std::string("--socket"), socket_,
          std::string("--state-dir"), dir_})
      argv.push_back(a);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  for (int i = 0; i < 600; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fprintf(stderr, "gemmad exited during start:\n%s\n", log().c_str());
      return false;
    }
    auto c = client::Client::connect(socket_);
    if (c.ok() && c->hello("probe").ok()) {
      start_ms_ =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  fprintf(stderr, "gemmad did not answer within 30 s:\n%s\n", log().c_str());
  kill9();
  return false;
}

int DaemonProcess::stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void DaemonProcess::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string DaemonProcess::log() const {
  return read_file(log_path_);
}

client::Client DaemonProcess::connect(const std::string& app) const {
  auto c = client::Client::connect(socket_);
  if (!c.ok()) throw std::runtime_error("connect: " + c.error().message);
  auto h = c->hello(app);
  if (!h.ok()) throw std::runtime_error("hello: " + h.error().message);
  return std::move(c).value();
}

}  // namespace gemmad::testing
