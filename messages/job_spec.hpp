#pragma once
// What a client asks for: the job as submitted, validated by the gateway and published to the
// BERTH_JOBS stream.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "messages/limits.hpp"
#include "messages/version.hpp"

namespace berth::messages {

struct SourceFile {
  std::string name;  // relative path inside the job's work dir
  std::string content;
  MSGPACK_DEFINE_MAP(name, content);
};

struct JobSpec {
  uint32_t version = kWireVersion;
  std::string id;
  std::string language;
  std::vector<SourceFile> files;  // files[0] is the entry point
  std::string stdin_data;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  Limits limits;
  bool network = false;
  int64_t submitted_ms = 0;
  MSGPACK_DEFINE_MAP(version, id, language, files, stdin_data, args, env, limits, network,
                     submitted_ms);
};

}  // namespace berth::messages
