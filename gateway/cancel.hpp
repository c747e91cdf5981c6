#pragma once
// DELETE /v1/jobs/{id}. A queued job is finished as cancelled right here (the worker that
// later pulls its message sees a finished record and skips it); a scheduled or running one gets
// cancel_requested and a message on berth.cancel.<id>, which its worker acts on within 1 s.
#include <expected>
#include <string>

#include "gateway/api_error.hpp"
#include "gateway/job_store.hpp"

namespace berth::gateway {

// The record after the change; 404 unknown id, 409 already finished. Blocking.
std::expected<messages::JobRecord, ApiError> cancel_job(JobStore& store, const std::string& id);

}  // namespace berth::gateway
