#pragma once
// berth-gateway's configuration: a TOML file (--config), each key overridable by the
// environment variable BERTH_GATEWAY_<KEY> and by the flag --<key-with-dashes>; flags beat the
// environment, which beats the file. Every default works on a single machine.
#include <cstdint>
#include <expected>
#include <string>

#include "base/config_loader.hpp"
#include "base/listen_address.hpp"

namespace berth::gateway {

struct GatewayConfig {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  std::string nats_url = "nats://127.0.0.1:4222";
  uint64_t max_body_bytes = 8u << 20;  // larger request bodies are answered 413
  std::string languages_dir;           // default images::default_languages_dir()
  // Where this host's images are (images::default_image_dir()): /v1/languages reports whether
  // each language's image is built there, which is the workers' cache on a single machine.
  std::string image_dir;
  uint64_t wait_timeout_ms = 120'000;  // how long POST ?wait=true waits for the result
  std::string log_level = "info";
};

// Parses argv (and the file it names with --config, and the environment). The error is the
// text to print: a usage message for --help, or what was wrong and where.
using ConfigError = config::Error;
std::expected<GatewayConfig, ConfigError> load_gateway_config(int argc, char** argv);

using berth::ListenAddress;
using berth::parse_listen;

}  // namespace berth::gateway
