#pragma once
// RAII wrappers over nats.c: one Connection per process owns the socket and the JetStream
// context; the C API's status ladders stay in this folder.
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nats/nats.h>

namespace berth::nats {

using Error = std::string;

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using Msg = std::unique_ptr<natsMsg, MsgDeleter>;

inline std::string_view data(const Msg& m) {
  return {natsMsg_GetData(m.get()), static_cast<size_t>(natsMsg_GetDataLength(m.get()))};
}

// "what: <nats status text> (<last error>)"
Error status_error(std::string_view what, natsStatus s);

class Subscription {
 public:
  Subscription() = default;
  explicit Subscription(natsSubscription* s) : sub_(s) {}
  Subscription(Subscription&& o) noexcept : sub_(std::exchange(o.sub_, nullptr)) {}
  Subscription& operator=(Subscription&& o) noexcept;
  ~Subscription();
  natsSubscription* get() const { return sub_; }
  // Waits up to timeout_ms for the next message; nullptr on timeout.
  std::expected<Msg, Error> next(int64_t timeout_ms);

 private:
  natsSubscription* sub_ = nullptr;
};

class Connection {
 public:
  using Handler = std::function<void(Msg)>;

  // Connects to `url`; when the server is not there yet the connection keeps retrying in the
  // background (connected() tells), so a process can start before NATS does.
  static std::expected<std::unique_ptr<Connection>, Error> connect(const std::string& url,
                                                                   const std::string& name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  natsConnection* get() const { return nc_; }
  bool connected() const;
  std::expected<void, Error> publish(std::string_view subject, std::string_view data);
  std::expected<void, Error> respond(natsMsg* request, std::string_view data);
  std::expected<Msg, Error> request(std::string_view subject, std::string_view data,
                                    int64_t timeout_ms);
  // `handler` runs on a nats.c thread; keep it short and hand off.
  std::expected<Subscription, Error> subscribe(std::string_view subject, Handler handler);
  // Messages are taken with Subscription::next().
  std::expected<Subscription, Error> subscribe_sync(std::string_view subject);
  std::expected<void, Error> flush(int64_t timeout_ms);

 private:
  Connection() = default;
  natsConnection* nc_ = nullptr;
  std::vector<std::unique_ptr<Handler>> handlers_;
};

}  // namespace berth::nats
