#pragma once
// Turns the JSON body of a submission (POST /v1/jobs or a request on berth.api.submit) into a
// JobSpec, or a 400 naming the field that is wrong. No I/O: the id is assigned by submit.cpp.
#include <expected>
#include <string_view>

#include "gateway/api_error.hpp"
#include "images/language.hpp"
#include "messages/job_spec.hpp"

namespace berth::gateway {

std::expected<messages::JobSpec, ApiError> parse_job_request(
    std::string_view body, const images::LanguageCatalog& catalog);

// Whether `id` can be a key of the berth_jobs bucket (NATS KV: [-/_=.a-zA-Z0-9], no dot at
// either end). Anything else cannot name a job, so lookups answer 404 without asking NATS.
bool valid_job_key(std::string_view id);

}  // namespace berth::gateway
