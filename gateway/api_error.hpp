#pragma once
// The error every gateway operation returns: the HTTP status it maps to and a message a client
// can act on. The NATS submit endpoint carries the same pair in its reply.
#include <string>

namespace berth::gateway {

struct ApiError {
  int status = 500;
  std::string message;
};

inline ApiError bad_request(std::string m) {
  return {400, std::move(m)};
}
inline ApiError not_found(std::string m) {
  return {404, std::move(m)};
}
// Any route that needs NATS while it is away, or whose NATS call failed.
inline ApiError nats_unreachable(const std::string& why) {
  return {503, "NATS is unreachable: " + why};
}

}  // namespace berth::gateway
