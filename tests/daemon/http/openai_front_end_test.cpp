// The OpenAI front-end over the real HTTP transport and socket, against a scripted fake
// TurnService (no model): what each callback becomes on the wire, and how a disconnect and
// the service's refusals come back. The real service: tests/integration/http_test.py.
#include "daemon/http/openai_front_end.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/common/temp_dir.h"

namespace gemmad::http {
namespace {

using daemon::TurnService;

// Runs everything on the io thread, as the real service does; tokens are "generated" by the
// test through play().
class FakeTurns : public TurnService {
 public:
  Result<daemon::TurnHandle> start(daemon::TurnRequest request,
                                   std::shared_ptr<daemon::TurnStream> stream) override {
    if (refuse) return *refuse;
    last = request;
    stream_ = stream;
    daemon::TurnStartInfo info;
    info.model = request.model.empty() ? "tiny" : request.model;
    stream->on_start(info);
    started.set_value();
    return daemon::TurnHandle{7};
  }
  void cancel(daemon::TurnHandle h) override { cancelled.set_value(h); }
  void wake() override {}
  std::vector<daemon::ModelEntry> models(bool) const override {
    daemon::ModelEntry e;
    e.name = "tiny";
    e.path = "/nonexistent/tiny.gguf";
    e.resident_bytes = 1234;
    return {e};
  }
  daemon::ServiceStatus status() const override {
    daemon::ServiceStatus s;
    s.queued = 2;
    s.models = models(false);
    return s;
  }
  void add_finished_listener(daemon::FinishedListener l) override { listener = std::move(l); }

  // io thread: tokens, then done.
  void play(const std::vector<std::string>& pieces, daemon::TurnOutcome outcome) {
    for (const auto& p : pieces)
      stream_->on_token(1, p);
    stream_->on_done(std::move(outcome));
  }

  std::optional<Error> refuse;
  daemon::TurnRequest last;
  std::shared_ptr<daemon::TurnStream> stream_;
  std::promise<void> started;
  std::promise<daemon::TurnHandle> cancelled;
  daemon::FinishedListener listener;
};

class FrontEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    front_ = std::make_unique<OpenAiFrontEnd>(turns_, [] {
      return std::map<std::string, uint64_t>{{"http", 1}};
    });
    path_ = dir_.file("http.sock");
    auto r = HttpServer::listen(io_, path_, {},
                                [this](std::shared_ptr<HttpExchange> ex, HttpRequest req) {
                                  front_->handle(std::move(ex), std::move(req));
                                },
                                {});
    ASSERT_TRUE(r.ok()) << r.error().message;
    server_ = std::move(r).value();
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    std::promise<void> stopped;
    boost::asio::post(io_, [&] {
      server_->stop();
      turns_.stream_.reset();
      stopped.set_value();
    });
    stopped.get_future().wait();
    io_.stop();
    thread_.join();
  }
  int connect_client() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  static void send_request(int fd, const std::string& method, const std::string& target,
                           const std::string& body) {
    const std::string req = method + " " + target +
                            " HTTP/1.1\r\nHost: g\r\nConnection: close\r\n" +
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  }
  static std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0)
      out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  }
  std::string exchange(const std::string& method, const std::string& target,
                       const std::string& body = "") {
    const int fd = connect_client();
    send_request(fd, method, target, body);
    return read_all(fd);
  }
  static std::string body_of(const std::string& response) {
    return response.substr(response.find("\r\n\r\n") + 4);
  }
  void play_when_started(std::vector<std::string> pieces, daemon::TurnOutcome outcome) {
    turns_.started.get_future().wait();
    boost::asio::post(
        io_, [this, pieces, outcome]() mutable { turns_.play(pieces, std::move(outcome)); });
  }

  FakeTurns turns_;
  std::unique_ptr<OpenAiFrontEnd> front_;
  testing::TempDir dir_;
  std::string path_;
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

const char* kChat = R"({"model": "tiny", "messages": [{"role": "system", "content": "S"},
  {"role": "user", "content": "Hi"}], "max_tokens": 5, "temperature": 0, "stop": "x"})";

daemon::TurnOutcome outcome(daemon::TurnStop stop, std::string text) {
  daemon::TurnOutcome o;
  o.stop = stop;
  o.text = std::move(text);
  o.model = "tiny";
  o.usage.prompt_tokens = 9;
  o.usage.cached_tokens = 4;
  o.usage.completion_tokens = 2;
  return o;
}

TEST_F(FrontEndTest, AChatBecomesAStatelessTurnAndOneCompletionBody) {
  std::thread player([this] {
    play_when_started({"Hel", "lo"}, outcome(daemon::TurnStop::kMaxTokens, "Hello"));
  });
  const std::string response = exchange("POST", "/v1/chat/completions", kChat);
  player.join();
  ASSERT_EQ(response.rfind("HTTP/1.1 200 ", 0), 0u) << response;
  const auto j = nlohmann::json::parse(body_of(response));
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
  EXPECT_EQ(j["usage"]["total_tokens"], 11);
  EXPECT_EQ(turns_.last.kind, daemon::TurnKind::kStatelessChat);
  ASSERT_EQ(turns_.last.stateless.messages.size(), 2u);
  EXPECT_EQ(turns_.last.stateless.messages[0].role, daemon::ChatMessage::Role::kSystem);
  EXPECT_EQ(turns_.last.caller.app_name, "http");
  EXPECT_EQ(turns_.last.caller.front_end, "http");
  EXPECT_EQ(turns_.last.caller.uid, ::getuid());
  EXPECT_EQ(turns_.last.params.max_tokens, 5u);
  EXPECT_EQ(turns_.last.params.stop, std::vector<std::string>{"x"});
}

TEST_F(FrontEndTest, AStreamSendsRoleTextFinishUsageThenDone) {
  std::thread player([this] {
    play_when_started({"Hel", "", "lo"}, outcome(daemon::TurnStop::kStopToken, "Hello"));
  });
  std::string body = R"({"messages": [{"role": "user", "content": "Hi"}], "stream": true,
                         "stream_options": {"include_usage": true}})";
  const std::string response = exchange("POST", "/v1/chat/completions", body);
  player.join();
  std::vector<std::string> events;
  for (size_t at = response.find("data: "); at != std::string::npos;
       at = response.find("data: ", at + 1)) {
    events.push_back(response.substr(at + 6, response.find("\n\n", at) - at - 6));
  }
  ASSERT_EQ(events.size(), 6u) << response;  // role, Hel, lo, finish, usage, [DONE]
  EXPECT_EQ(nlohmann::json::parse(events[0])["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(nlohmann::json::parse(events[2])["choices"][0]["delta"]["content"], "lo");
  EXPECT_EQ(nlohmann::json::parse(events[3])["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(nlohmann::json::parse(events[4])["usage"]["completion_tokens"], 2);
  EXPECT_EQ(events[5], "[DONE]");
}

TEST_F(FrontEndTest, APeerThatLeavesCancelsItsTurn) {
  const int fd = connect_client();
  send_request(fd, "POST", "/v1/completions", R"({"prompt": "Once", "stream": true})");
  turns_.started.get_future().wait();
  EXPECT_EQ(turns_.last.kind, daemon::TurnKind::kCompletion);
  EXPECT_TRUE(turns_.last.completion.raw);
  EXPECT_EQ(turns_.last.params.max_tokens, 16u);
  ::close(fd);
  auto cancelled = turns_.cancelled.get_future();
  ASSERT_EQ(cancelled.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(cancelled.get(), 7u);
}

TEST_F(FrontEndTest, RefusalsAndRoutesAreOpenAiErrorObjects) {
  turns_.refuse = make_error(ErrorCode::kResourceExhausted, "busy: 64 requests queued");
  std::string r = exchange("POST", "/v1/chat/completions", kChat);
  EXPECT_EQ(r.rfind("HTTP/1.1 429 ", 0), 0u) << r;
  EXPECT_EQ(nlohmann::json::parse(body_of(r))["error"]["message"], "busy: 64 requests queued");
  turns_.refuse = make_error(ErrorCode::kNotFound, "no model 'big'");
  EXPECT_EQ(exchange("POST", "/v1/chat/completions", kChat).rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(exchange("GET", "/v1/nowhere").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(exchange("GET", "/v1/chat/completions").rfind("HTTP/1.1 405 ", 0), 0u);
  r = exchange("POST", "/v1/chat/completions", R"({"messages": 1})");
  EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
}

TEST_F(FrontEndTest, ModelsAndMetricsComeFromTheService) {
  const auto models = nlohmann::json::parse(body_of(exchange("GET", "/v1/models")));
  EXPECT_EQ(models["data"][0]["id"], "tiny");
  daemon::FinishedRequest f;
  f.front_end = "http";
  f.model = "tiny";
  f.started = true;
  f.stop = daemon::TurnStop::kEos;
  f.usage.completion_tokens = 3;
  f.ttft_ms = 20;
  f.decode_ms = 40;
  turns_.listener(f);
  const std::string text = body_of(exchange("GET", "/metrics"));
  EXPECT_NE(text.find("gemmad_queue_depth 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("gemmad_resident_weight_bytes{model=\"tiny\"} 1234\n"), std::string::npos);
  EXPECT_NE(text.find("gemmad_open_connections{front_end=\"http\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("gemmad_generated_tokens_total{front_end=\"http\",model=\"tiny\"} 3\n"),
            std::string::npos);
}

}  // namespace
}  // namespace gemmad::http
