#include "messages/nats/jetstream.hpp"

namespace berth::nats {

namespace {
Error js_error(std::string_view what, natsStatus s, jsErrCode jerr) {
  auto e = status_error(what, s);
  if (jerr != 0) e += " [jetstream error " + std::to_string(static_cast<int>(jerr)) + "]";
  return e;
}
}  // namespace

std::expected<std::unique_ptr<JetStream>, Error> JetStream::open(Connection& conn) {
  auto js = std::unique_ptr<JetStream>(new JetStream());
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = 5000;
  if (auto s = natsConnection_JetStream(&js->js_, conn.get(), &o); s != NATS_OK)
    return std::unexpected(status_error("jetstream context", s));
  return js;
}

JetStream::~JetStream() {
  if (js_) jsCtx_Destroy(js_);
}

std::expected<void, Error> JetStream::ensure_work_queue(std::string_view stream,
                                                        std::string_view subject) {
  std::string name(stream), subj(subject);
  const char* subjects[] = {subj.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Retention = js_WorkQueuePolicy;
  cfg.Storage = js_FileStorage;
  cfg.Duplicates = int64_t{120} * 1'000'000'000;  // the window in which a msg id dedups
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
  if (si) jsStreamInfo_Destroy(si);
  if (s == NATS_OK || jerr == JSStreamNameExistErr) return {};
  return std::unexpected(js_error("create stream " + name, s, jerr));
}

std::expected<uint64_t, Error> JetStream::publish(std::string_view subject, std::string_view data,
                                                  std::string_view msg_id) {
  std::string subj(subject), id(msg_id);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id.empty() ? nullptr : id.c_str();
  jsPubAck* pa = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_Publish(&pa, js_, subj.c_str(), data.data(), static_cast<int>(data.size()), &po, &jerr);
  if (s != NATS_OK) return std::unexpected(js_error("publish to " + subj, s, jerr));
  uint64_t seq = pa->Sequence;
  jsPubAck_Destroy(pa);
  return seq;
}

std::expected<PullConsumer, Error> PullConsumer::bind(JetStream& js, std::string_view stream,
                                                      std::string_view subject,
                                                      std::string_view durable,
                                                      const ConsumerSettings& settings) {
  std::string strm(stream), subj(subject), dur(durable);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = strm.c_str();
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.AckWait = settings.ack_wait_ms * 1'000'000;
  so.Config.MaxDeliver = settings.max_deliver;
  so.Config.MaxAckPending = -1;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&sub, js.get(), subj.c_str(), dur.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK) return std::unexpected(js_error("pull consumer " + dur, s, jerr));
  return PullConsumer(Subscription(sub));
}

std::expected<std::vector<Msg>, Error> PullConsumer::fetch(int batch, int64_t timeout_ms) {
  natsMsgList list{};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_.get(), batch, timeout_ms, &jerr);
  std::vector<Msg> out;
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // ownership moved out; Destroy skips nulls
  }
  natsMsgList_Destroy(&list);
  if (s == NATS_OK || s == NATS_TIMEOUT) return out;
  return std::unexpected(js_error("fetch", s, jerr));
}

std::expected<void, Error> ack(natsMsg* m) {
  if (auto s = natsMsg_AckSync(m, nullptr, nullptr); s != NATS_OK)
    return std::unexpected(status_error("ack", s));
  return {};
}
std::expected<void, Error> nak(natsMsg* m, int64_t delay_ms) {
  if (auto s = natsMsg_NakWithDelay(m, delay_ms, nullptr); s != NATS_OK)
    return std::unexpected(status_error("nak", s));
  return {};
}
std::expected<void, Error> in_progress(natsMsg* m) {
  if (auto s = natsMsg_InProgress(m, nullptr); s != NATS_OK)
    return std::unexpected(status_error("in progress", s));
  return {};
}
std::expected<void, Error> term(natsMsg* m) {
  if (auto s = natsMsg_Term(m, nullptr); s != NATS_OK)
    return std::unexpected(status_error("term", s));
  return {};
}
uint64_t delivery_count(natsMsg* m) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, m) != NATS_OK) return 1;
  uint64_t n = meta->NumDelivered;
  jsMsgMetaData_Destroy(meta);
  return n;
}

}  // namespace berth::nats
