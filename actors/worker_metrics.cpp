#include "actors/worker_metrics.hpp"

#include <sstream>

namespace berth::actors {

namespace {
// Label values are ours (ids, runtime names), but a worker id comes from the operator: escape
// what the exposition format requires.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

void WorkerMetrics::job_finished(std::string_view verdict) {
  std::lock_guard lock(mu_);
  auto it = finished_.find(verdict);
  if (it == finished_.end()) it = finished_.emplace(std::string(verdict), 0).first;
  ++it->second;
}

std::string WorkerMetrics::render(const WorkerGauges& g) const {
  std::ostringstream o;
  o << "# HELP berth_worker_info This worker's id and the runtime its jobs run in.\n"
       "# TYPE berth_worker_info gauge\n"
       "berth_worker_info{worker_id=\""
    << label(g.worker_id) << "\",runtime=\"" << label(g.runtime) << "\"} 1\n";
  o << "# HELP berth_worker_slots Jobs this worker runs at once.\n"
       "# TYPE berth_worker_slots gauge\n"
       "berth_worker_slots "
    << g.slots << "\n";
  o << "# HELP berth_worker_jobs_running Jobs with a machine on this worker now.\n"
       "# TYPE berth_worker_jobs_running gauge\n"
       "berth_worker_jobs_running "
    << g.running << "\n";
  o << "# HELP berth_worker_jobs_finished_total Jobs this worker ended in a persisted terminal "
       "state, by verdict.\n"
       "# TYPE berth_worker_jobs_finished_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (auto& [verdict, n] : finished_)
      o << "berth_worker_jobs_finished_total{verdict=\"" << label(verdict) << "\"} " << n << "\n";
  }
  o << "# HELP berth_worker_jobs_handed_back_total Jobs put back on the queue: for another "
       "attempt on a fresh machine (retry) or because the worker stopped (shutdown).\n"
       "# TYPE berth_worker_jobs_handed_back_total counter\n"
       "berth_worker_jobs_handed_back_total{reason=\"retry\"} "
    << retried_.load() << "\n"
    << "berth_worker_jobs_handed_back_total{reason=\"shutdown\"} " << given_back_.load() << "\n";
  boot_seconds_.render(o, "berth_worker_machine_boot_seconds",
                       "From a machine's start to its agent's hello.");
  o << "# HELP berth_worker_machine_boot_failures_total Machines that did not come up.\n"
       "# TYPE berth_worker_machine_boot_failures_total counter\n"
       "berth_worker_machine_boot_failures_total "
    << boot_failures_.load() << "\n";
  o << "# HELP berth_worker_nats_connected 1 while the worker is connected to NATS.\n"
       "# TYPE berth_worker_nats_connected gauge\n"
       "berth_worker_nats_connected "
    << (g.nats_connected ? 1 : 0) << "\n";
  return o.str();
}

}  // namespace berth::actors
