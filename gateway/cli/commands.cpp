#include "gateway/cli/commands.hpp"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <spdlog/fmt/fmt.h>
#include <CLI/CLI.hpp>

#include "gateway/cli/http_client.hpp"
#include "gateway/cli/sse.hpp"

namespace berth::gateway::cli {

using nlohmann::json;

namespace {

constexpr int kFailed = 2;  // usage errors and failed requests
constexpr auto kPollEvery = std::chrono::milliseconds(500);

struct Global {
  GatewayUrl url;
  bool json = false;
};

struct JobOptions {
  std::string language, file, stdin_file;
  uint32_t wall_ms = 0, cpu_ms = 0, memory_mib = 0;
  std::vector<std::string> args;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "berth: %s\n", message.c_str());
  return kFailed;
}

void write_out(FILE* f, std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), f);
  std::fflush(f);
}

// The gateway's {"error": ...} text, or the raw body when it is not that.
std::string error_text(const HttpReply& r) {
  auto j = json::parse(r.body, nullptr, false);
  std::string what = j.is_object() && j.contains("error") && j["error"].is_string()
                         ? j["error"].get<std::string>()
                         : r.body;
  return what + " (HTTP " + std::to_string(r.status) + ")";
}

// A request whose answer is JSON; a transport failure or an error status is the error text.
std::expected<json, std::string> call(const Global& g, const std::string& method,
                                      const std::string& target, const std::string& body = {}) {
  auto r = http_request(g.url, method, target, body);
  if (!r) return std::unexpected(r.error());
  if (r->status >= 400) return std::unexpected(error_text(*r));
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded())
    return std::unexpected("the gateway answered something that is not JSON (HTTP " +
                           std::to_string(r->status) + ")");
  return j;
}

std::expected<std::string, std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::expected<json, std::string> job_body(const JobOptions& o) {
  auto source = read_file(o.file);
  if (!source) return std::unexpected(source.error());
  // Sent as "source": the language's run command names its own entry file (main.py, ...).
  json j = {{"language", o.language}, {"source", *source}};
  if (!o.stdin_file.empty()) {
    auto in = read_file(o.stdin_file);
    if (!in) return std::unexpected(in.error());
    j["stdin"] = *in;
  }
  if (!o.args.empty()) j["args"] = o.args;
  if (o.wall_ms) j["limits"]["wall_ms"] = o.wall_ms;
  if (o.cpu_ms) j["limits"]["cpu_ms"] = o.cpu_ms;
  if (o.memory_mib) j["limits"]["memory_mib"] = o.memory_mib;
  return j;
}

std::string dump(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

// Following a job's event stream: prints its output as it comes (unless `quiet`), remembers
// how much of each stream was printed and the id, and ends with the finished record.
struct Follow {
  bool quiet = false;
  std::string id;
  size_t out_printed = 0, err_printed = 0;
  std::optional<json> record;
  std::string error;

  void on_event(const SseEvent& e) {
    auto d = json::parse(e.data, nullptr, false);
    if (!d.is_object()) return;
    if (e.event == "state") {
      id = d.value("id", id);
    } else if (e.event == "output" && !quiet) {
      std::string data = d.value("data", "");
      bool err = d.value("stream", "") == "stderr";
      if (d.value("step", "") != "run") {
        write_out(stderr, data);  // compile output goes to stderr, not counted
      } else {
        write_out(err ? stderr : stdout, data);
        (err ? err_printed : out_printed) += data.size();
      }
    } else if (e.event == "result") {
      record = std::move(d);
    } else if (e.event == "error") {
      error = d.value("error", "the stream reported an error");
    }
  }
};

// POSTs or GETs an event stream and follows it to the record. When the stream breaks off
// before the result (a gateway restart), polls the record instead.
std::expected<json, std::string> follow(const Global& g, Follow& f, const std::string& method,
                                        const std::string& target, const std::string& body) {
  SseParser parser;
  auto r = http_stream(g.url, method, target, body, [&](std::string_view bytes) {
    for (const auto& e : parser.feed(bytes)) f.on_event(e);
    return !f.record;
  });
  if (f.record) return *f.record;
  if (r && r->status >= 400) return std::unexpected(error_text(*r));
  if (r && !r->content_type.starts_with("text/event-stream"))
    return std::unexpected("the gateway did not answer with an event stream (HTTP " +
                           std::to_string(r->status) + ")");
  if (f.id.empty())
    return std::unexpected(r ? f.error.empty() ? "the stream ended early" : f.error : r.error());
  for (int i = 0; i < 1200; ++i) {  // ten minutes
    auto rec = call(g, "GET", "/v1/jobs/" + f.id);
    if (rec && rec->value("state", "") == "finished") return *rec;
    std::this_thread::sleep_for(kPollEvery);
  }
  return std::unexpected("job " + f.id + " did not finish; see berth status " + f.id);
}

// What the record holds beyond what the stream printed (events are best effort).
void print_rest(const json& result, const Follow& f) {
  std::string out = result.value("stdout", ""), err = result.value("stderr", "");
  if (out.size() > f.out_printed) write_out(stdout, std::string_view(out).substr(f.out_printed));
  if (err.size() > f.err_printed) write_out(stderr, std::string_view(err).substr(f.err_printed));
}

std::string when(int64_t ms) {
  if (ms <= 0) return "-";
  time_t secs = ms / 1000;
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:03} UTC", buf, ms % 1000);
}

int cmd_run(const Global& g, const JobOptions& o) {
  auto body = job_body(o);
  if (!body) return fail(body.error());
  Follow f;
  f.quiet = g.json;
  auto rec = follow(g, f, "POST", "/v1/jobs?stream=true", body->dump());
  if (!rec) return fail(rec.error());
  const json& result = (*rec)["result"];
  if (g.json) {
    std::printf("%s\n", dump(*rec).c_str());
  } else {
    if (result.is_object()) print_rest(result, f);
    std::string compile = result.is_object() ? result.value("compile_output", "") : "";
    if (!compile.empty() && result.value("verdict", "") == "compile_error")
      write_out(stderr, compile);
    std::fprintf(stderr, "%s\n", summary_line(result).c_str());
  }
  return job_exit_status(result);
}

int cmd_submit(const Global& g, const JobOptions& o) {
  auto body = job_body(o);
  if (!body) return fail(body.error());
  auto r = call(g, "POST", "/v1/jobs", body->dump());
  if (!r) return fail(r.error());
  std::printf("%s\n", g.json ? dump(*r).c_str() : r->value("id", "").c_str());
  return 0;
}

int cmd_status(const Global& g, const std::string& id) {
  auto r = call(g, "GET", "/v1/jobs/" + id);
  if (!r) return fail(r.error());
  if (g.json) {
    std::printf("%s\n", dump(*r).c_str());
    return 0;
  }
  const json& rec = *r;
  fmt::print("id        {}\nlanguage  {}\nstate     {}{}\n", rec.value("id", ""),
             rec.value("language", ""), rec.value("state", ""),
             rec.value("cancel_requested", false) ? " (cancel requested)" : "");
  if (rec["result"].is_object())
    fmt::print("verdict   {}\n", summary_line(rec["result"]).substr(7));
  fmt::print("created   {}\n", when(rec.value("created_ms", int64_t{0})));
  if (rec.value("started_ms", int64_t{0}) > 0)
    fmt::print("started   {}\n", when(rec.value("started_ms", int64_t{0})));
  if (rec.value("finished_ms", int64_t{0}) > 0)
    fmt::print("finished  {}\n", when(rec.value("finished_ms", int64_t{0})));
  if (!rec.value("worker_id", "").empty())
    fmt::print("worker    {} (attempt {})\n", rec.value("worker_id", ""), rec.value("attempts", 0));
  if (rec["result"].is_object()) {
    const json& res = rec["result"];
    fmt::print("usage     cpu {} ms, wall {} ms, peak memory {} KiB\n", res.value("cpu_ms", 0),
               res.value("wall_ms", 0), res.value("peak_memory_kib", 0));
  }
  for (const auto& n : rec.value("plan", json::array())) {
    int64_t took = n.value("finished_ms", int64_t{0}) - n.value("started_ms", int64_t{0});
    fmt::print("plan      {:<8} {:<8} {:>6} ms  {}\n", n.value("name", ""), n.value("status", ""),
               took > 0 ? took : 0, n.value("detail", ""));
  }
  return 0;
}

int cmd_logs(const Global& g, const std::string& id, bool follow_it) {
  if (follow_it) {
    Follow f;
    f.quiet = g.json;
    auto rec = follow(g, f, "GET", "/v1/jobs/" + id + "/events", "");
    if (!rec) return fail(rec.error());
    if (g.json)
      std::printf("%s\n", dump(*rec).c_str());
    else if ((*rec)["result"].is_object())
      print_rest((*rec)["result"], f);
    return 0;
  }
  auto r = call(g, "GET", "/v1/jobs/" + id);
  if (!r) return fail(r.error());
  if (g.json) {
    std::printf("%s\n", dump(*r).c_str());
    return 0;
  }
  if (!(*r)["result"].is_object()) {
    std::fprintf(stderr,
                 "berth: job %s is %s; its output is stored when it finishes (logs -f "
                 "follows it live)\n",
                 id.c_str(), r->value("state", "").c_str());
    return 0;
  }
  print_rest((*r)["result"], Follow{});
  return 0;
}

int cmd_cancel(const Global& g, const std::string& id) {
  auto r = call(g, "DELETE", "/v1/jobs/" + id);
  if (!r) return fail(r.error());
  if (g.json)
    std::printf("%s\n", dump(*r).c_str());
  else if (r->value("state", "") == "finished")
    std::printf("%s: cancelled\n", id.c_str());
  else
    std::printf("%s: cancel requested (%s)\n", id.c_str(), r->value("state", "").c_str());
  return 0;
}

int cmd_languages(const Global& g) {
  auto r = call(g, "GET", "/v1/languages");
  if (!r) return fail(r.error());
  if (g.json) {
    std::printf("%s\n", dump(*r).c_str());
    return 0;
  }
  fmt::print("{:<12} {:<9} {:<12} {:<9} {:<6} {}\n", "NAME", "VERSION", "SOURCE", "COMPILED",
             "BUILT", "DEFAULT LIMITS");
  for (const auto& l : *r) {
    const json& d = l.value("default_limits", json::object());
    fmt::print("{:<12} {:<9} {:<12} {:<9} {:<6} wall {} ms, cpu {} ms, memory {} MiB\n",
               l.value("name", ""), l.value("version", ""), l.value("source_file", ""),
               l.value("compiled", false) ? "yes" : "no", l.value("built", false) ? "yes" : "no",
               d.value("wall_ms", 0), d.value("cpu_ms", 0), d.value("memory_mib", 0));
  }
  return 0;
}

void add_job_options(CLI::App* cmd, JobOptions& o) {
  cmd->add_option("-l,--language", o.language, "language (see berth languages)")->required();
  cmd->add_option("file", o.file, "source file")->required();
  cmd->add_option("--stdin", o.stdin_file, "file fed to the job's standard input");
  cmd->add_option("--wall-ms", o.wall_ms, "wall-clock limit in ms");
  cmd->add_option("--cpu-ms", o.cpu_ms, "CPU-time limit in ms");
  cmd->add_option("--memory-mib", o.memory_mib, "memory limit in MiB");
  cmd->add_option("args", o.args, "arguments for the program (after --)");
}

}  // namespace

int job_exit_status(const json& result) {
  if (!result.is_object()) return 125;
  std::string verdict = result.value("verdict", "");
  if (verdict == "ok" || verdict == "runtime_error") {
    if (result.contains("exit_code") && result["exit_code"].is_number_integer())
      return result["exit_code"].get<int>() & 0xff;
    if (result.contains("signal") && result["signal"].is_number_integer())
      return (128 + result["signal"].get<int>()) & 0xff;
    return verdict == "ok" ? 0 : 1;
  }
  return verdict == "time_limit" ? 124 : 125;
}

std::string summary_line(const json& result) {
  if (!result.is_object()) return "berth: no result";
  std::vector<std::string> parts;
  if (result.contains("exit_code") && result["exit_code"].is_number_integer())
    parts.push_back("exit " + std::to_string(result["exit_code"].get<int>()));
  if (result.contains("signal") && result["signal"].is_number_integer())
    parts.push_back("signal " + std::to_string(result["signal"].get<int>()));
  if (!result.value("message", "").empty()) parts.push_back(result.value("message", ""));
  std::string line = "berth: " + result.value("verdict", "unknown");
  if (!parts.empty()) line += " (" + fmt::format("{}", fmt::join(parts, ", ")) + ")";
  if (auto wall = result.value("wall_ms", uint64_t{0}); wall > 0)
    line += " in " + std::to_string(wall) + " ms";
  return line;
}

int main(int argc, char** argv) {
  CLI::App app{"berth: run code on berth-gateway"};
  app.require_subcommand(1);
  app.fallthrough();  // --json and --gateway may come after the command too
  std::string gateway;
  Global g;
  app.add_option("--gateway", gateway,
                 "gateway URL (default: $BERTH_GATEWAY, else http://127.0.0.1:8080)");
  app.add_flag("--json", g.json, "print the gateway's JSON answers as they are");

  JobOptions run_opts, submit_opts;
  auto* run = app.add_subcommand("run", "run a file, printing its output as it comes");
  add_job_options(run, run_opts);
  auto* submit = app.add_subcommand("submit", "queue a file as a job and print its id");
  add_job_options(submit, submit_opts);
  std::string id;
  bool follow_it = false;
  auto* status = app.add_subcommand("status", "show a job's state and result");
  status->add_option("id", id, "job id")->required();
  auto* logs = app.add_subcommand("logs", "print a job's output");
  logs->add_option("id", id, "job id")->required();
  logs->add_flag("-f,--follow", follow_it, "follow the output live until the job finishes");
  auto* cancel = app.add_subcommand("cancel", "cancel a job");
  cancel->add_option("id", id, "job id")->required();
  auto* languages = app.add_subcommand("languages", "list the languages the gateway offers");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kFailed;
  }
  if (gateway.empty()) {
    const char* env = std::getenv("BERTH_GATEWAY");
    gateway = env && *env ? env : "http://127.0.0.1:8080";
  }
  auto url = parse_gateway_url(gateway);
  if (!url) return fail(url.error());
  g.url = *url;

  if (run->parsed()) return cmd_run(g, run_opts);
  if (submit->parsed()) return cmd_submit(g, submit_opts);
  if (status->parsed()) return cmd_status(g, id);
  if (logs->parsed()) return cmd_logs(g, id, follow_it);
  if (cancel->parsed()) return cmd_cancel(g, id);
  if (languages->parsed()) return cmd_languages(g);
  return fail("no command");
}

}  // namespace berth::gateway::cli
