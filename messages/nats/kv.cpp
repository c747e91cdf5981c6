#include "messages/nats/kv.hpp"

namespace berth::nats {

std::expected<std::unique_ptr<KeyValue>, Error> KeyValue::open(JetStream& js,
                                                               std::string_view bucket,
                                                               KvOptions options) {
  auto kv = std::unique_ptr<KeyValue>(new KeyValue());
  std::string name(bucket);
  natsStatus s = js_KeyValue(&kv->kv_, js.get(), name.c_str());
  if (s == NATS_OK) return kv;
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = name.c_str();
  cfg.History = 1;
  cfg.StorageType = options.memory ? js_MemoryStorage : js_FileStorage;
  cfg.TTL = options.ttl_ms * 1'000'000;  // nanoseconds
  s = js_CreateKeyValue(&kv->kv_, js.get(), &cfg);
  if (s != NATS_OK) return std::unexpected(status_error("create kv bucket " + name, s));
  return kv;
}

KeyValue::~KeyValue() {
  if (kv_) kvStore_Destroy(kv_);
}

std::expected<std::optional<KvEntry>, Error> KeyValue::get(std::string_view key) {
  std::string k(key);
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, kv_, k.c_str());
  if (s == NATS_NOT_FOUND) return std::optional<KvEntry>{};
  if (s != NATS_OK) return std::unexpected(status_error("kv get " + k, s));
  KvEntry out{std::string(static_cast<const char*>(kvEntry_Value(e)),
                          static_cast<size_t>(kvEntry_ValueLen(e))),
              kvEntry_Revision(e)};
  kvEntry_Destroy(e);
  return out;
}

std::expected<uint64_t, KvError> KeyValue::create(std::string_view key, std::string_view value) {
  std::string k(key);
  uint64_t rev = 0;
  natsStatus s = kvStore_Create(&rev, kv_, k.c_str(), value.data(), static_cast<int>(value.size()));
  if (s != NATS_OK)
    return std::unexpected(KvError{KvError::Kind::failed, status_error("kv create " + k, s)});
  return rev;
}

std::expected<uint64_t, KvError> KeyValue::update(std::string_view key, std::string_view value,
                                                  uint64_t last_revision) {
  std::string k(key);
  uint64_t rev = 0;
  natsStatus s = kvStore_Update(&rev, kv_, k.c_str(), value.data(), static_cast<int>(value.size()),
                                last_revision);
  if (s == NATS_OK) return rev;
  auto message = status_error("kv update " + k, s);
  // nats.c reports a stale revision as a plain error whose text names the sequence mismatch.
  bool conflict = message.find("wrong last sequence") != std::string::npos;
  return std::unexpected(
      KvError{conflict ? KvError::Kind::conflict : KvError::Kind::failed, std::move(message)});
}

std::expected<uint64_t, Error> KeyValue::put(std::string_view key, std::string_view value) {
  std::string k(key);
  uint64_t rev = 0;
  natsStatus s = kvStore_Put(&rev, kv_, k.c_str(), value.data(), static_cast<int>(value.size()));
  if (s != NATS_OK) return std::unexpected(status_error("kv put " + k, s));
  return rev;
}

std::expected<void, Error> KeyValue::erase(std::string_view key) {
  std::string k(key);
  natsStatus s = kvStore_Delete(kv_, k.c_str());
  if (s != NATS_OK) return std::unexpected(status_error("kv delete " + k, s));
  return {};
}

std::expected<std::map<std::string, KvEntry>, Error> KeyValue::entries() {
  kvKeysList keys{};
  natsStatus s = kvStore_Keys(&keys, kv_, nullptr);
  std::map<std::string, KvEntry> out;
  if (s == NATS_NOT_FOUND) return out;  // an empty bucket
  if (s != NATS_OK) return std::unexpected(status_error("kv keys", s));
  std::optional<Error> failed;
  for (int i = 0; i < keys.Count && !failed; ++i) {
    auto e = get(keys.Keys[i]);
    if (!e)
      failed = e.error();
    else if (*e)  // gone (expired, deleted) since the listing
      out.emplace(keys.Keys[i], std::move(**e));
  }
  kvKeysList_Destroy(&keys);
  if (failed) return std::unexpected(*failed);
  return out;
}

}  // namespace berth::nats
