#include "gateway/routes.hpp"

#include <map>
#include <vector>

#include <spdlog/spdlog.h>

#include "gateway/cancel.hpp"
#include "gateway/events_stream.hpp"
#include "gateway/job_json.hpp"
#include "gateway/job_request.hpp"
#include "gateway/submit.hpp"

namespace berth::gateway {

namespace {

struct Target {
  std::vector<std::string> segments;  // "/v1/jobs/x" -> {"v1", "jobs", "x"}
  std::map<std::string, std::string> query;
};

Target parse_target(std::string_view target) {
  Target t;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) t.segments.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      auto eq = pair.find('=');
      t.query[std::string(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    }
  }
  return t;
}

// ?wait, ?wait=true, ?wait=1 are true; absent, false or 0 are false; anything else is a 400.
std::expected<bool, ApiError> flag(const Target& t, const std::string& name) {
  auto it = t.query.find(name);
  if (it == t.query.end()) return false;
  const auto& v = it->second;
  if (v.empty() || v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return std::unexpected(bad_request("?" + name + " must be true or false, not '" + v + "'"));
}

Response method_not_allowed(const Request& req, const char* allow) {
  auto res = error_response(
      req, ApiError{405, "method " + std::string(req.method_string()) + " not allowed on " +
                             std::string(req.target()) + " (allowed: " + allow + ")"});
  res.set(http::field::allow, allow);
  return res;
}

awaitable<Outcome> post_job(Context& ctx, const Request& req, beast::tcp_stream& stream,
                            const Target& t) {
  auto wait = flag(t, "wait");
  auto stream_flag = flag(t, "stream");
  if (!wait) co_return co_await send(stream, error_response(req, wait.error()));
  if (!stream_flag) co_return co_await send(stream, error_response(req, stream_flag.error()));
  if (*wait && *stream_flag)
    co_return co_await send(
        stream, error_response(req, bad_request("?wait and ?stream cannot be combined")));

  auto spec = prepare_job(req.body(), ctx.catalog);
  if (!spec) co_return co_await send(stream, error_response(req, spec.error()));
  if (auto r = ctx.store.ready(); !r)
    co_return co_await send(stream, error_response(req, r.error()));

  // Subscribe before publishing: a worker may start (and finish) the job at once.
  std::unique_ptr<JobWatch> watch;
  if (*wait || *stream_flag) {
    auto w = JobWatch::open(ctx.store.connection(), spec->id, co_await net::this_coro::executor);
    if (!w) co_return co_await send(stream, error_response(req, w.error()));
    watch = std::move(*w);
  }
  auto enqueue = [&] { return enqueue_job(ctx.store, ctx.workers, std::move(*spec)); };
  auto rec = co_await offload(ctx.blocking, enqueue);
  if (!rec) co_return co_await send(stream, error_response(req, rec.error()));
  ctx.metrics.job_submitted();

  if (*stream_flag) {
    StoredRecord current{std::move(*rec), 0};
    co_return co_await stream_events(ctx, req, stream, std::move(watch), std::move(current));
  }
  if (*wait) co_return co_await wait_for_result(ctx, req, stream, std::move(watch), *rec);
  co_return co_await send(stream, json_response(req, 202, accepted_json(rec->spec.id)));
}

awaitable<Outcome> get_job(Context& ctx, const Request& req, beast::tcp_stream& stream,
                           const std::string& id) {
  auto read = [&] { return ctx.store.get(id); };
  auto got = co_await offload(ctx.blocking, read);
  if (!got) co_return co_await send(stream, error_response(req, got.error()));
  if (!*got) co_return co_await send(stream, error_response(req, not_found("no job '" + id + "'")));
  co_return co_await send(stream, json_response(req, 200, record_json((*got)->record)));
}

awaitable<Outcome> get_events(Context& ctx, const Request& req, beast::tcp_stream& stream,
                              const std::string& id) {
  if (auto r = ctx.store.ready(); !r)
    co_return co_await send(stream, error_response(req, r.error()));
  if (!valid_job_key(id))
    co_return co_await send(stream, error_response(req, not_found("no job '" + id + "'")));
  // Subscribe first, then read: whatever happens after the read arrives as an event.
  auto watch = JobWatch::open(ctx.store.connection(), id, co_await net::this_coro::executor);
  if (!watch) co_return co_await send(stream, error_response(req, watch.error()));
  auto read = [&] { return ctx.store.get(id); };
  auto got = co_await offload(ctx.blocking, read);
  if (!got) co_return co_await send(stream, error_response(req, got.error()));
  if (!*got) co_return co_await send(stream, error_response(req, not_found("no job '" + id + "'")));
  co_return co_await stream_events(ctx, req, stream, std::move(*watch), std::move(**got));
}

awaitable<Outcome> delete_job(Context& ctx, const Request& req, beast::tcp_stream& stream,
                              const std::string& id) {
  auto cancel = [&] { return cancel_job(ctx.store, id); };
  auto rec = co_await offload(ctx.blocking, cancel);
  if (!rec) co_return co_await send(stream, error_response(req, rec.error()));
  co_return co_await send(stream, json_response(req, 202, record_json(*rec)));
}

awaitable<Outcome> healthz(Context& ctx, const Request& req, beast::tcp_stream& stream) {
  auto ready = ctx.store.ready();
  auto body = health_json(ready.has_value(), ctx.store.connected(),
                          ready ? std::string() : ready.error().message);
  co_return co_await send(stream, json_response(req, ready ? 200 : 503, body));
}

}  // namespace

awaitable<Outcome> handle_request(Context& ctx, const Request& req, beast::tcp_stream& stream) {
  const Target t = parse_target(std::string_view(req.target().data(), req.target().size()));
  const auto& s = t.segments;
  const auto m = req.method();

  if (s.size() == 2 && s[0] == "v1" && s[1] == "jobs") {
    if (m == http::verb::post) co_return co_await post_job(ctx, req, stream, t);
    co_return co_await send(stream, method_not_allowed(req, "POST"));
  }
  if (s.size() == 3 && s[0] == "v1" && s[1] == "jobs") {
    if (m == http::verb::get) co_return co_await get_job(ctx, req, stream, s[2]);
    if (m == http::verb::delete_) co_return co_await delete_job(ctx, req, stream, s[2]);
    co_return co_await send(stream, method_not_allowed(req, "GET, DELETE"));
  }
  if (s.size() == 4 && s[0] == "v1" && s[1] == "jobs" && s[3] == "events") {
    if (m == http::verb::get) co_return co_await get_events(ctx, req, stream, s[2]);
    co_return co_await send(stream, method_not_allowed(req, "GET"));
  }
  if (s.size() == 2 && s[0] == "v1" && s[1] == "languages") {
    if (m == http::verb::get)
      co_return co_await send(
          stream, json_response(req, 200, languages_json(ctx.catalog, ctx.config.image_dir)));
    co_return co_await send(stream, method_not_allowed(req, "GET"));
  }
  if (s.size() == 1 && s[0] == "healthz") {
    if (m == http::verb::get) co_return co_await healthz(ctx, req, stream);
    co_return co_await send(stream, method_not_allowed(req, "GET"));
  }
  if (s.size() == 1 && s[0] == "metrics") {
    if (m == http::verb::get)
      co_return co_await send(stream, text_response(req, 200, "text/plain; version=0.0.4",
                                                    ctx.metrics.render(ctx.store.connected())));
    co_return co_await send(stream, method_not_allowed(req, "GET"));
  }
  co_return co_await send(
      stream, error_response(req, not_found("no such endpoint: " + std::string(req.target()))));
}

}  // namespace berth::gateway
