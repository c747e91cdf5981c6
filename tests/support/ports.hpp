#pragma once
#include <cstdint>

namespace berth::test {
// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
uint16_t free_port();
// Whether something accepts TCP connections on 127.0.0.1:port.
bool port_open(uint16_t port);
}  // namespace berth::test
