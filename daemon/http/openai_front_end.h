// The OpenAI-compatible front-end: translates HTTP requests (GET /v1/models, POST
// /v1/chat/completions and /v1/completions, GET /metrics) into TurnService calls and the
// service's callbacks back into OpenAI JSON and Server-Sent Events. Stateless, as OpenAI's
// API is: nothing is stored; a repeated history prefix reuses cached KV (cached_tokens).
//
// Threads: handle() runs on the io thread the service lives on (the HttpServer's).
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/http/http_server.h"
#include "daemon/http/metrics.h"
#include "daemon/turn_service.h"

namespace gemmad::http {

// Open connections by front-end name, for gemmad_open_connections.
using ConnectionCounts = std::function<std::map<std::string, uint64_t>()>;

class OpenAiFrontEnd {
 public:
  // Registers a finished-request listener on `service` that feeds the metrics.
  OpenAiFrontEnd(daemon::TurnService& service, ConnectionCounts connections);
  void handle(std::shared_ptr<HttpExchange> exchange, HttpRequest request);
  const Metrics& metrics() const { return metrics_; }

 private:
  void on_models(HttpExchange& ex);
  void on_metrics(HttpExchange& ex);
  void on_generate(const std::shared_ptr<HttpExchange>& ex, const HttpRequest& req, bool chat);

  daemon::TurnService& service_;
  ConnectionCounts connections_;
  Metrics metrics_;
  uint64_t next_id_ = 1;
};

// The HTTP socket of gemmad: the server and its front-end, started from the config.
class HttpFrontEnd {
 public:
  // Null (and ok) when http.enabled is false. `protobuf_connections` counts the main socket's.
  static Result<std::unique_ptr<HttpFrontEnd>> start(
      boost::asio::io_context& io, const daemon::Config& config, daemon::TurnService& service,
      std::function<uint64_t()> protobuf_connections);
  void stop() { server_->stop(); }

 private:
  HttpFrontEnd() = default;
  std::unique_ptr<OpenAiFrontEnd> front_end_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace gemmad::http
