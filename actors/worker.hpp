#pragma once
// What every actor of one worker process shares: configuration, the NATS connection, the job
// store, the language catalog, the long-lived actors and the index of running supervisors.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/all.hpp>

#include "actors/job_store.hpp"
#include "actors/worker_config.hpp"
#include "actors/worker_metrics.hpp"
#include "images/language.hpp"
#include "messages/nats/connection.hpp"
#include "messages/nats/jetstream.hpp"
#include "messages/nats/kv.hpp"
#include "vmm/net/host_filter.hpp"
#include "vmm/runtime.hpp"

namespace berth::actors {

// Running supervisors by job id, so a cancel arriving on a NATS thread reaches its job.
class SupervisorIndex {
 public:
  void add(const std::string& id, caf::actor a) {
    std::lock_guard l(mu_);
    by_id_[id] = std::move(a);
  }
  void remove(const std::string& id) {
    std::lock_guard l(mu_);
    by_id_.erase(id);
  }
  std::optional<caf::actor> find(const std::string& id) {
    std::lock_guard l(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::nullopt;
    return it->second;
  }
  size_t size() {
    std::lock_guard l(mu_);
    return by_id_.size();
  }
  std::vector<caf::actor> all() {
    std::lock_guard l(mu_);
    std::vector<caf::actor> out;
    for (auto& [_, a] : by_id_) out.push_back(a);
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, caf::actor> by_id_;
};

struct Worker {
  WorkerConfig cfg;
  vmm::RuntimeChoice runtime;
  std::string gateway_ip;  // the bridge's address
  int prefix_len = 24;
  std::unique_ptr<nats::Connection> conn;
  std::unique_ptr<nats::JetStream> js;
  std::unique_ptr<nats::KeyValue> kv;
  std::unique_ptr<JobStore> store;
  // berth_workers: where this worker announces itself and learns whether any live worker
  // offers egress (for a network job that reached a worker without it).
  std::unique_ptr<nats::KeyValue> workers_bucket;
  // The packet filter of the bridge (installed before any machine exists).
  std::unique_ptr<vmm::net::HostFilter> filter;
  std::vector<vmm::net::Cidr> egress_denied;
  std::shared_ptr<const images::LanguageCatalog> catalog;
  caf::actor ip_manager;
  caf::actor image_builder;
  caf::actor scheduler;
  SupervisorIndex supervisors;
  WorkerMetrics metrics;
  // Set (release) once every field above is; until then the status server, which starts first,
  // reads only cfg, runtime, supervisors and metrics.
  std::atomic<bool> ready{false};
};

}  // namespace berth::actors
