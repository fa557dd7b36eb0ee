// ipc_fake_daemon SOCKET: serves FakeDaemon on SOCKET until SIGTERM/SIGINT, for testing
// clients in other languages (tests/ipc/python_client_test.py) and gemmactl without a model.
// Prints "ready" on stdout once it listens.
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>

#include "fake_daemon.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ipc_fake_daemon SOCKET\n";
    return 2;
  }
  boost::asio::io_context io;
  gemmad::ipc::testing::FakeDaemon fake;
  std::unique_ptr<gemmad::ipc::Server> server;
  auto handlers = fake.handlers([&] { return server->connection_count(); });
  handlers.log = [](std::string_view line) { std::cerr << "ipc_fake_daemon: " << line << "\n"; };
  auto listening = gemmad::ipc::Server::listen(io, argv[1], {}, std::move(handlers));
  if (!listening.ok()) {
    std::cerr << "ipc_fake_daemon: " << listening.error().message << "\n";
    return 1;
  }
  server = std::move(listening).value();
  server->start();
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) server->stop();
  });
  std::cout << "ready" << std::endl;
  io.run();  // returns once stop() closed every connection and the signal set fired
  return 0;
}
