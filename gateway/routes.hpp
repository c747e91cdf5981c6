#pragma once
// The HTTP API (docs/api.md): which handler answers which method and path.
#include "gateway/context.hpp"
#include "gateway/http_util.hpp"

namespace berth::gateway {

// Answers one request on `stream` (the response may be a long SSE stream).
awaitable<Outcome> handle_request(Context& ctx, const Request& req, beast::tcp_stream& stream);

}  // namespace berth::gateway
