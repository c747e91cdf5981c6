#pragma once
// Submitting a job, shared by POST /v1/jobs and the NATS endpoint berth.api.submit: validate,
// assign an id, write the queued record, publish the spec (DESIGN.md §2, step 1). Blocking:
// run it off the I/O threads.
#include <expected>
#include <string>
#include <string_view>

#include "gateway/api_error.hpp"
#include "gateway/job_store.hpp"
#include "gateway/worker_directory.hpp"
#include "images/language.hpp"
#include "messages/job_record.hpp"

namespace berth::gateway {

// "j" and 24 random lowercase hex digits (96 bits: collisions are not a concern).
std::string new_job_id();

// Validates `body` into a spec with a fresh id and submitted_ms set; nothing is written yet.
std::expected<messages::JobSpec, ApiError> prepare_job(std::string_view body,
                                                       const images::LanguageCatalog& catalog);

// Checks what only the live workers can say (a job with network: true needs a worker with
// egress = nat: 400 otherwise), writes the queued record, then publishes the spec. When the
// publish fails the record is finished as internal_error ("could not enqueue: ...") so nobody
// waits for it, and the answer is 503. The HTTP path subscribes to the job's events between
// prepare_job and enqueue_job.
std::expected<messages::JobRecord, ApiError> enqueue_job(JobStore& store, WorkerDirectory& workers,
                                                         messages::JobSpec spec);

// prepare_job, then enqueue_job.
std::expected<messages::JobRecord, ApiError> submit_job(JobStore& store, WorkerDirectory& workers,
                                                        const images::LanguageCatalog& catalog,
                                                        std::string_view body);

}  // namespace berth::gateway
