#include "messages/nats/connection.hpp"

#include <spdlog/spdlog.h>

namespace berth::nats {

Error status_error(std::string_view what, natsStatus s) {
  std::string out(what);
  out += ": ";
  out += natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last && *last && std::string_view(last) != natsStatus_GetText(s)) {
    out += " (";
    out += last;
    out += ")";
  }
  return out;
}

Subscription& Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    if (sub_) natsSubscription_Destroy(sub_);
    sub_ = std::exchange(o.sub_, nullptr);
  }
  return *this;
}

Subscription::~Subscription() {
  if (sub_) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
}

std::expected<Msg, Error> Subscription::next(int64_t timeout_ms) {
  natsMsg* m = nullptr;
  natsStatus s = natsSubscription_NextMsg(&m, sub_, timeout_ms);
  if (s == NATS_TIMEOUT) return Msg{};
  if (s != NATS_OK) return std::unexpected(status_error("next message", s));
  return Msg{m};
}

namespace {
void on_disconnected(natsConnection*, void*) {
  spdlog::warn("nats: disconnected, retrying");
}
void on_reconnected(natsConnection*, void*) {
  spdlog::info("nats: reconnected");
}
void on_connected(natsConnection*, void*) {
  spdlog::info("nats: connected");
}

void dispatch(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  (*static_cast<Connection::Handler*>(closure))(Msg{msg});
}
}  // namespace

std::expected<std::unique_ptr<Connection>, Error> Connection::connect(const std::string& url,
                                                                      const std::string& name) {
  natsOptions* opts = nullptr;
  if (auto s = natsOptions_Create(&opts); s != NATS_OK)
    return std::unexpected(status_error("nats options", s));
  std::unique_ptr<natsOptions, decltype(&natsOptions_Destroy)> guard(opts, natsOptions_Destroy);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetName(opts, name.c_str());
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 250);
  natsOptions_SetTimeout(opts, 2000);
  natsOptions_SetDisconnectedCB(opts, on_disconnected, nullptr);
  natsOptions_SetReconnectedCB(opts, on_reconnected, nullptr);
  natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, nullptr);
  std::unique_ptr<Connection> c(new Connection());
  natsStatus s = natsConnection_Connect(&c->nc_, opts);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
    return std::unexpected(status_error("connect to " + url, s));
  if (s == NATS_NOT_YET_CONNECTED) spdlog::warn("nats: {} not reachable yet, retrying", url);
  return c;
}

Connection::~Connection() {
  if (nc_) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

bool Connection::connected() const {
  return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

std::expected<void, Error> Connection::publish(std::string_view subject, std::string_view data) {
  std::string subj(subject);
  natsStatus s =
      natsConnection_Publish(nc_, subj.c_str(), data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return std::unexpected(status_error("publish " + subj, s));
  return {};
}

std::expected<void, Error> Connection::respond(natsMsg* request, std::string_view data) {
  const char* reply = natsMsg_GetReply(request);
  if (!reply || !*reply) return std::unexpected(Error("request has no reply subject"));
  return publish(reply, data);
}

std::expected<Msg, Error> Connection::request(std::string_view subject, std::string_view data,
                                              int64_t timeout_ms) {
  std::string subj(subject);
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_Request(&reply, nc_, subj.c_str(), data.data(),
                                        static_cast<int>(data.size()), timeout_ms);
  if (s != NATS_OK) return std::unexpected(status_error("request " + subj, s));
  return Msg{reply};
}

std::expected<Subscription, Error> Connection::subscribe(std::string_view subject,
                                                         Handler handler) {
  std::string subj(subject);
  auto owned = std::make_unique<Handler>(std::move(handler));
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, nc_, subj.c_str(), dispatch, owned.get());
  if (s != NATS_OK) return std::unexpected(status_error("subscribe " + subj, s));
  handlers_.push_back(std::move(owned));
  return Subscription(sub);
}

std::expected<Subscription, Error> Connection::subscribe_sync(std::string_view subject) {
  std::string subj(subject);
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_SubscribeSync(&sub, nc_, subj.c_str());
  if (s != NATS_OK) return std::unexpected(status_error("subscribe " + subj, s));
  return Subscription(sub);
}

std::expected<void, Error> Connection::flush(int64_t timeout_ms) {
  natsStatus s = natsConnection_FlushTimeout(nc_, timeout_ms);
  if (s != NATS_OK) return std::unexpected(status_error("flush", s));
  return {};
}

}  // namespace berth::nats
