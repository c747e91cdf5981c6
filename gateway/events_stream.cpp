#include "gateway/events_stream.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/write.hpp>

#include "gateway/job_json.hpp"

namespace berth::gateway {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kPollEvery = 500ms;
// A comment line this often lets a stream notice a client that went away while the job
// queues or runs quietly, and keeps proxies from timing the stream out.
constexpr auto kHeartbeatEvery = 15s;

// One text/event-stream response. HTTP/1.1 gets chunked encoding (the connection could be
// reused); HTTP/1.0 gets a body delimited by closing the connection.
class SseWriter {
 public:
  SseWriter(beast::tcp_stream& stream, const Request& req) : stream_(stream), req_(req) {}

  awaitable<bool> start(const std::string& id) {
    http::response<http::empty_body> res{http::status::ok, req_.version()};
    res.set(http::field::server, "berth-gateway");
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Berth-Job-Id", id);
    res.set("X-Accel-Buffering", "no");  // nginx: pass events through as they come
    chunked_ = req_.version() >= 11;
    if (chunked_)
      res.chunked(true);
    else
      res.keep_alive(false);
    http::response_serializer<http::empty_body> sr{res};
    co_await http::async_write_header(stream_, sr, net::redirect_error(net::use_awaitable, ec_));
    co_return !ec_;
  }

  awaitable<bool> send(std::string_view event, const nlohmann::json& data) {
    co_return co_await write("event: " + std::string(event) + "\ndata: " + dump(data) + "\n\n");
  }
  awaitable<bool> heartbeat() { co_return co_await write(": keep-alive\n\n"); }

  awaitable<Outcome> finish() {
    if (!ec_ && chunked_)
      co_await net::async_write(stream_, http::make_chunk_last(),
                                net::redirect_error(net::use_awaitable, ec_));
    // After a stream the connection is closed: clients read SSE to the end of the response,
    // and most of them treat the end as a reason to reconnect, not to reuse.
    co_return Outcome{200, false};
  }

 private:
  awaitable<bool> write(std::string text) {
    if (ec_) co_return false;
    if (chunked_)
      co_await net::async_write(stream_, http::make_chunk(net::buffer(text)),
                                net::redirect_error(net::use_awaitable, ec_));
    else
      co_await net::async_write(stream_, net::buffer(text),
                                net::redirect_error(net::use_awaitable, ec_));
    co_return !ec_;
  }

  beast::tcp_stream& stream_;
  const Request& req_;
  bool chunked_ = true;
  beast::error_code ec_;
};

awaitable<std::expected<std::optional<StoredRecord>, ApiError>> read_record(Context& ctx,
                                                                            std::string id) {
  auto read = [&] { return ctx.store.get(id); };
  co_return co_await offload(ctx.blocking, read);
}

bool finished_event(const std::vector<messages::JobEvent>& events) {
  for (const auto& e : events)
    if (e.kind == messages::EventKind::state && e.state == messages::JobState::finished)
      return true;
  return false;
}

}  // namespace

awaitable<Outcome> stream_events(Context& ctx, const Request& req, beast::tcp_stream& stream,
                                 std::unique_ptr<JobWatch> watch, StoredRecord current) {
  const std::string id = current.record.spec.id;
  SseWriter sse(stream, req);
  if (!co_await sse.start(id)) co_return Outcome{200, false};
  auto state = current.record.state;
  bool open = co_await sse.send("state", state_event_json(id, state));
  bool finished = current.record.terminal();
  if (open && finished) open = co_await sse.send("result", record_json(current.record));

  auto next_poll = Clock::now() + kPollEvery, next_beat = Clock::now() + kHeartbeatEvery;
  while (open && !finished && !ctx.stopping) {
    auto events = co_await watch->next(std::min(next_poll, next_beat));
    bool check = false;
    for (const auto& e : events) {
      if (!open) break;
      if (e.kind == messages::EventKind::output) {
        open = co_await sse.send("output", output_event_json(e));
      } else if (e.state == messages::JobState::finished) {
        check = true;  // announced with the record, below, once KV has it
      } else if (e.state != state) {
        state = e.state;
        open = co_await sse.send("state", state_event_json(id, state));
      }
    }
    auto now = Clock::now();
    if (now >= next_poll) {
      check = true;
      next_poll = now + kPollEvery;
    }
    if (open && check) {
      auto got = co_await read_record(ctx, id);
      if (!got) {
        spdlog::debug("[{}] events: record not read: {}", id, got.error().message);
      } else if (!*got) {
        spdlog::warn("[{}] events: the record is gone", id);
        open = co_await sse.send("error", error_json("the job's record is gone"));
        break;
      } else {
        const auto& rec = (*got)->record;
        if (rec.state != state) {
          state = rec.state;
          open = co_await sse.send("state", state_event_json(id, state));
        }
        if (open && rec.terminal()) {
          open = co_await sse.send("result", record_json(rec));
          finished = true;
        }
      }
    }
    if (open && !finished && now >= next_beat) {
      open = co_await sse.heartbeat();
      next_beat = now + kHeartbeatEvery;
    }
  }
  spdlog::debug("[{}] events stream ended ({})", id,
                finished ? "finished" : (open ? "shutting down" : "client gone"));
  co_return co_await sse.finish();
}

awaitable<Outcome> wait_for_result(Context& ctx, const Request& req, beast::tcp_stream& stream,
                                   std::unique_ptr<JobWatch> watch, messages::JobRecord current) {
  const std::string id = current.spec.id;
  auto deadline = Clock::now() + std::chrono::milliseconds(ctx.config.wait_timeout_ms);
  auto next_poll = Clock::now() + kPollEvery;
  while (!ctx.stopping) {
    auto events = co_await watch->next(std::min(next_poll, deadline));
    bool check = finished_event(events);
    auto now = Clock::now();
    if (now >= next_poll || now >= deadline) {
      check = true;
      next_poll = now + kPollEvery;
    }
    if (check) {
      auto got = co_await read_record(ctx, id);
      if (got && *got) {
        current = std::move((*got)->record);
        if (current.terminal())
          co_return co_await send(stream, json_response(req, 200, record_json(current)));
      }
    }
    if (now >= deadline) break;
  }
  spdlog::info("[{}] not finished within the wait ({}); answering 202", id,
               messages::to_string(current.state));
  co_return co_await send(stream, json_response(req, 202, record_json(current)));
}

}  // namespace berth::gateway
