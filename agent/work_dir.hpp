#pragma once
// The job's work directory and the files a step brings into it. The agent is root and the
// directory belongs to the job, which may have planted symlinks, FIFOs or hard links there in
// an earlier step: every path is walked with openat and O_NOFOLLOW, and only plain regular
// files with one link are overwritten.
#include <sys/types.h>

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "messages/job_spec.hpp"

namespace berth::agent {

// Creates `dir` with its parents and makes it owned by uid:gid, mode 0755.
std::expected<void, std::string> prepare_work_dir(const std::string& dir, uid_t uid, gid_t gid);

// The components of a job file name; an error for absolute names, ".." components, NUL bytes
// or names with no component at all. "." and empty components are dropped.
std::expected<std::vector<std::string>, std::string> split_job_path(std::string_view name);

// Writes each file under `dir`, creating sub-directories, everything owned by uid:gid. The
// error names the file.
std::expected<void, std::string> write_files(const std::string& dir,
                                             const std::vector<messages::SourceFile>& files,
                                             uid_t uid, gid_t gid);

}  // namespace berth::agent
