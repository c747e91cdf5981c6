#pragma once
// NATS names shared by the gateway and the worker (docs/architecture.md, "NATS").
#include <string>
#include <string_view>

namespace berth::messages {

inline constexpr std::string_view kJobsStream = "BERTH_JOBS";
inline constexpr std::string_view kJobsSubject = "berth.jobs.queue";
inline constexpr std::string_view kJobsConsumer = "berth-workers";
inline constexpr std::string_view kJobsBucket = "berth_jobs";
inline constexpr std::string_view kWorkersBucket = "berth_workers";  // messages/worker_info.hpp
inline constexpr std::string_view kSubmitSubject = "berth.api.submit";

inline std::string events_subject(std::string_view job_id) {
  return "berth.events." + std::string(job_id);
}
inline std::string cancel_subject(std::string_view job_id) {
  return "berth.cancel." + std::string(job_id);
}
inline constexpr std::string_view kCancelWildcard = "berth.cancel.*";

}  // namespace berth::messages
