#pragma once
// Turns the step's child from the agent's root into the job's user, the way
// `setpriv --reuid=U --regid=G --clear-groups --inh-caps=-all --bounding-set=-all
// --no-new-privs` does, then proves it. In the jail the agent is root of the host's user
// namespace (DESIGN.md §3): a job that kept any of it could read the host's secrets.
#include <sys/types.h>

#include <expected>
#include <string>

namespace berth::agent {

// Empty bounding set, no ambient or inheritable capabilities, no supplementary groups, every
// uid and gid set to uid/gid, no_new_privs. Then checks that setuid(0) fails and that no
// capability is left; any failure is an error and the step must not run.
std::expected<void, std::string> drop_privileges(uid_t uid, gid_t gid);

}  // namespace berth::agent
