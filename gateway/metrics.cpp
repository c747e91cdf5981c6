#include "gateway/metrics.hpp"

#include <sstream>

namespace berth::gateway {

void Metrics::request(int code, double seconds) {
  {
    std::lock_guard lock(m_);
    ++by_code_[code];
  }
  request_seconds_.observe(seconds);
}

std::string Metrics::render(bool nats_connected) const {
  std::ostringstream o;
  o << "# HELP berth_gateway_http_requests_total HTTP requests answered, by status code.\n"
       "# TYPE berth_gateway_http_requests_total counter\n";
  {
    std::lock_guard lock(m_);
    for (auto [code, n] : by_code_)
      o << "berth_gateway_http_requests_total{code=\"" << code << "\"} " << n << "\n";
  }
  request_seconds_.render(o, "berth_gateway_request_seconds",
                          "Time from a request's arrival to the end of its answer (streams "
                          "included).");
  o << "# HELP berth_gateway_jobs_submitted_total Jobs accepted and queued (HTTP and NATS).\n"
       "# TYPE berth_gateway_jobs_submitted_total counter\n"
       "berth_gateway_jobs_submitted_total "
    << jobs_submitted_.load() << "\n";
  o << "# HELP berth_gateway_nats_requests_total Requests on berth.api.submit, by outcome.\n"
       "# TYPE berth_gateway_nats_requests_total counter\n"
       "berth_gateway_nats_requests_total{outcome=\"ok\"} "
    << nats_requests_ok_.load() << "\n"
    << "berth_gateway_nats_requests_total{outcome=\"error\"} " << nats_requests_failed_.load()
    << "\n";
  o << "# HELP berth_gateway_nats_connected 1 while the gateway is connected to NATS.\n"
       "# TYPE berth_gateway_nats_connected gauge\n"
       "berth_gateway_nats_connected "
    << (nats_connected ? 1 : 0) << "\n";
  return o.str();
}

}  // namespace berth::gateway
