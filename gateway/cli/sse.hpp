#pragma once
// Server-sent events (WHATWG HTML, "Server-sent events", §9.2.6 interpretation of the stream):
// bytes in, whole events out.
#include <string>
#include <string_view>
#include <vector>

namespace berth::gateway::cli {

struct SseEvent {
  std::string event = "message";
  std::string data;  // data lines joined with '\n'
};

class SseParser {
 public:
  // Feeds bytes; returns the events they completed.
  std::vector<SseEvent> feed(std::string_view bytes);

 private:
  void line(std::string_view l, std::vector<SseEvent>& out);
  std::string pending_;  // an incomplete line
  SseEvent current_;
  bool has_data_ = false;
};

}  // namespace berth::gateway::cli
