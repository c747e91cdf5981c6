#pragma once
// A minimal blocking HTTP/1.1 client for tests (Boost.Beast), one connection per request.
#include <chrono>
#include <map>
#include <string>

namespace berth::test {

struct HttpResponse {
  int status = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
  std::map<std::string, std::string> headers;
  std::string error;
};

HttpResponse http(const std::string& method, uint16_t port, const std::string& target,
                  const std::string& body = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace berth::test
