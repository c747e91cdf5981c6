#pragma once
// What every request handler of the gateway reaches: configuration, languages, NATS, metrics,
// and the pool that runs blocking NATS calls off the I/O threads.
#include <atomic>

#include <boost/asio/thread_pool.hpp>

#include "gateway/config.hpp"
#include "gateway/job_store.hpp"
#include "gateway/metrics.hpp"
#include "gateway/worker_directory.hpp"
#include "images/language.hpp"

namespace berth::gateway {

struct Context {
  const GatewayConfig& config;
  const images::LanguageCatalog& catalog;
  JobStore& store;
  WorkerDirectory& workers;
  Metrics& metrics;
  boost::asio::thread_pool& blocking;
  // Set on SIGTERM/SIGINT: long requests (wait, SSE) end at their next wake-up.
  std::atomic<bool> stopping{false};
  // Requests being handled (not idle keep-alive connections): shutdown waits for them.
  std::atomic<int> active{0};
};

}  // namespace berth::gateway
