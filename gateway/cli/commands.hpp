#pragma once
// The berth command-line client: run, submit, status, logs, cancel, languages.
//
// Exit status: the job's exit code for ok and runtime_error, 124 for time_limit, 125 for other
// verdicts, 2 for usage errors and when the request failed (gateway unreachable or an error
// answer, whose text is printed).
#include <nlohmann/json.hpp>

namespace berth::gateway::cli {

int main(int argc, char** argv);

// The exit status `berth run` ends with for a finished record's "result".
int job_exit_status(const nlohmann::json& result);
// "berth: ok (exit 0) in 41 ms"
std::string summary_line(const nlohmann::json& result);

}  // namespace berth::gateway::cli
