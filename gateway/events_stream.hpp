#pragma once
// Following a job until it finishes: as server-sent events (GET /v1/jobs/{id}/events,
// POST /v1/jobs?stream=true) or as one answer at the end (POST /v1/jobs?wait=true).
//
// Both listen to the job's events and, since those are best effort, also read the record
// every 500 ms; the record in KV decides when the job is finished.
#include <memory>

#include "gateway/context.hpp"
#include "gateway/http_util.hpp"
#include "gateway/job_watch.hpp"

namespace berth::gateway {

// Answers text/event-stream: `state` (the current state, then each change), `output` (each
// chunk), and `result` (the finished record), after which the stream ends. `watch` must have
// been opened before `current` was read.
awaitable<Outcome> stream_events(Context& ctx, const Request& req, beast::tcp_stream& stream,
                                 std::unique_ptr<JobWatch> watch, StoredRecord current);

// Answers 200 with the finished record, or 202 with the current one once wait_timeout_ms has
// passed.
awaitable<Outcome> wait_for_result(Context& ctx, const Request& req, beast::tcp_stream& stream,
                                   std::unique_ptr<JobWatch> watch, messages::JobRecord current);

}  // namespace berth::gateway
