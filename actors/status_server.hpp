#pragma once
// The worker's small HTTP server for GET /healthz and GET /metrics (DESIGN.md §6): one thread of
// its own, so a slow scraper never touches a CAF scheduler thread, and answers computed by a
// handler from state the actors publish (counters, the supervisor index).
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/listen_address.hpp"

namespace berth::actors {

struct StatusResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class StatusServer {
 public:
  // Called on the server's thread for each GET, with the path (query string removed); nullopt
  // answers 404.
  using Handler = std::function<std::optional<StatusResponse>(std::string_view path)>;

  // Binds `addr` (port 0: a free one) and starts serving; an error names the address.
  static std::expected<std::unique_ptr<StatusServer>, std::string> start(const ListenAddress& addr,
                                                                         Handler handler);
  ~StatusServer();  // stops accepting, closes connections, joins the thread

  uint16_t port() const;

 private:
  struct Impl;
  explicit StatusServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::actors
