#pragma once
// The worker's actor protocol (DESIGN.md §2). Every request carries a finite timeout.
//
//   ip_manager     (lease_atom, job_id)        -> (bool ok, std::string ip_or_error)
//                  (release_atom, job_id)      -> (bool)
//                  (leases_atom)               -> (uint64_t leases_in_use)
//   image_builder  (image_atom, language)      -> (bool ok, std::string key_or_error,
//                                                  std::string rootfs, std::string initramfs)
//   internal:      (built_atom, language, bool ok, key_or_error, rootfs, initramfs)
//                                                  build thread -> builder
//   scheduler      (done_atom, job_id)         from each vm_supervisor as it ends
//                  (shutdown_atom)             from main on SIGTERM: stop pulling, drain
//   vm_supervisor  (cancel_atom)               from the NATS cancel subscription
//                  (shutdown_atom)             from the scheduler: give the job back
//   internal:      (frame_atom, body) / (closed_atom, why, bool agent_fault)
//                                              agent reader thread -> supervisor; the
//                                              supervisor calls AgentLink::consumed per frame
#include <caf/all.hpp>

namespace berth::actors {

using lease_atom = caf::atom_constant<caf::atom("lease")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using leases_atom = caf::atom_constant<caf::atom("leases")>;
using image_atom = caf::atom_constant<caf::atom("image")>;
using built_atom = caf::atom_constant<caf::atom("built")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;

}  // namespace berth::actors
