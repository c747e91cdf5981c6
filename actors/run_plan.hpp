#pragma once
// A job's run plan (DESIGN.md §2): Prepare nodes (image, ip, boot) and Execute nodes (compile
// when the language has one, run), built from the spec and the language as pure data, with no
// side effects, and persisted in the record before anything runs.
#include <vector>

#include "images/language.hpp"
#include "messages/agent_protocol.hpp"
#include "messages/job_record.hpp"

namespace berth::actors {

std::vector<messages::PlanNode> build_plan(const messages::JobSpec& spec,
                                           const images::Language& lang);

// The exec messages the supervisor sends, in order; the first carries the job's files.
std::vector<messages::ExecStep> build_steps(const messages::JobSpec& spec,
                                            const images::Language& lang);

}  // namespace berth::actors
