#include "agent/step_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "agent/log.hpp"
#include "agent/step_child.hpp"
#include "agent/work_dir.hpp"

namespace berth::agent {

namespace {

constexpr size_t kChunkBytes = 64 * 1024;  // the protocol's largest output chunk
// Above this much unsent output the job's pipes are not read: the job blocks on a full pipe
// instead of the agent buffering without bound for a supervisor that does not read.
constexpr size_t kMaxPendingBytes = 1 << 20;
// After the main process ends and everything is killed, how long to wait for the pipes' EOF
// (a process that escaped the group and has no cgroup could hold them open forever).
constexpr int64_t kDrainMs = 500;
constexpr int64_t kCpuCheckMs = 100;

messages::StepExit failed_exit(const std::string& step, std::string why) {
  messages::StepExit e;
  e.step = step;
  e.verdict = messages::Verdict::internal_error;
  e.message = std::move(why);
  log("step " + step + ": " + e.message);
  return e;
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Both ends close-on-exec (the child dup2s its end onto 0-2, which clears the flag); only the
// agent's end is non-blocking, the job gets ordinary blocking pipes.
std::expected<Pipe, std::string> make_pipe(bool agent_reads) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::unexpected(errno_text("pipe2"));
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  int agent_end = agent_reads ? fds[0] : fds[1];
  int flags = fcntl(agent_end, F_GETFL);
  if (flags < 0 || fcntl(agent_end, F_SETFL, flags | O_NONBLOCK) != 0)
    return std::unexpected(errno_text("fcntl O_NONBLOCK"));
  return p;
}

}  // namespace

int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

StepRunner::StepRunner(messages::ExecStep step, const StepConfig& cfg, int index, Connection& conn)
    : step_(std::move(step)), cfg_(cfg), index_(index), conn_(conn) {
  facts_.limits = step_.limits;
  out_[0].stream = messages::Stream::stdout_stream;
  out_[0].name = "stdout";
  out_[1].stream = messages::Stream::stderr_stream;
  out_[1].name = "stderr";
}

StepRunner::~StepRunner() {
  if (!finished_) kill_everything();
}

std::expected<std::unique_ptr<StepRunner>, messages::StepExit> StepRunner::start(
    messages::ExecStep step, const StepConfig& cfg, int index, Connection& conn) {
  if (step.argv.empty() || step.argv[0].empty())
    return std::unexpected(failed_exit(step.step, "empty argv"));
  if (auto r = write_files(cfg.work, step.files, cfg.uid, cfg.gid); !r)
    return std::unexpected(failed_exit(step.step, r.error()));
  step.files.clear();  // written; no reason to hold them for the step's lifetime
  std::unique_ptr<StepRunner> runner(new StepRunner(std::move(step), cfg, index, conn));
  if (auto r = runner->spawn(); !r) {
    runner->kill_everything();
    return std::unexpected(failed_exit(runner->step_.step, r.error()));
  }
  return runner;
}

std::expected<void, std::string> StepRunner::spawn() {
  auto cg = StepCgroups::create(cfg_.cgroups, index_, step_.limits);
  if (!cg) return std::unexpected("cgroup setup: " + cg.error());
  cgroups_ = std::move(*cg);
  facts_.memory_cgroup = cgroups_.has_memory();

  auto in = make_pipe(false);
  auto out = make_pipe(true);
  auto err = make_pipe(true);
  auto report = make_pipe(true);
  for (auto* p : {&in, &out, &err, &report})
    if (!*p) return std::unexpected(p->error());

  timer_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_) return std::unexpected(errno_text("timerfd_create"));
  itimerspec wall{};
  wall.it_value.tv_sec = step_.limits.wall_ms / 1000;
  wall.it_value.tv_nsec = long{step_.limits.wall_ms % 1000} * 1'000'000;
  if (step_.limits.wall_ms == 0) wall.it_value.tv_nsec = 1;  // 0 would disarm the timer

  ChildPlan plan;
  plan.argv = step_.argv;
  plan.env = job_environment(step_.env, cfg_.work);
  plan.work_dir = cfg_.work;
  plan.uid = cfg_.uid;
  plan.gid = cfg_.gid;
  plan.limits = step_.limits;
  plan.cgroups = &cgroups_;
  plan.stdin_fd = in->read.get();
  plan.stdout_fd = out->write.get();
  plan.stderr_fd = err->write.get();
  plan.report_fd = report->write.get();

  if (timerfd_settime(timer_.get(), 0, &wall, nullptr) != 0)
    return std::unexpected(errno_text("timerfd_settime"));
  started_ms_ = monotonic_ms();
  next_cpu_check_ms_ = started_ms_ + kCpuCheckMs;
  pid_ = fork();
  if (pid_ < 0) return std::unexpected(errno_text("fork"));
  if (pid_ == 0) run_child(plan);

  stdin_ = std::move(in->write);
  out_[0].fd = std::move(out->read);
  out_[1].fd = std::move(err->read);
  report_ = std::move(report->read);
  if (step_.stdin_data.empty()) stdin_.reset();  // the job reads EOF at once
  log("step " + step_.step + " #" + std::to_string(index_) + ": pid " + std::to_string(pid_) +
      " runs " + step_.argv[0]);
  return {};
}

void StepRunner::add_fds(PollList& polls) {
  bool room = conn_.pending() < kMaxPendingBytes;
  for (auto& o : out_) o.slot = room ? polls.add(o.fd.get(), POLLIN) : PollList::kNone;
  stdin_slot_ = polls.add(stdin_.get(), POLLOUT);
  timer_slot_ = polls.add(timer_.get(), POLLIN);
}

void StepRunner::handle(const PollList& polls) {
  if (timer_ && (polls.revents(timer_slot_) & POLLIN)) {
    uint64_t expirations = 0;
    ssize_t n = read(timer_.get(), &expirations, sizeof expirations);
    if (n == sizeof expirations && !reaped_) {
      facts_.wall_expired = true;
      log("step " + step_.step + ": wall limit of " + std::to_string(step_.limits.wall_ms) +
          " ms reached");
      kill_everything();
    }
    timer_.reset();
  }
  if (stdin_ && polls.revents(stdin_slot_)) feed_stdin();
  for (auto& o : out_)
    if (o.fd && polls.revents(o.slot)) read_output(o);
}

void StepRunner::feed_stdin() {
  while (stdin_off_ < step_.stdin_data.size()) {
    size_t len = std::min<size_t>(step_.stdin_data.size() - stdin_off_, kChunkBytes);
    ssize_t n = write(stdin_.get(), step_.stdin_data.data() + stdin_off_, len);
    if (n > 0) {
      stdin_off_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;  // EPIPE: the job closed its stdin early, which is its right
  }
  stdin_.reset();
  step_.stdin_data = std::string();
}

void StepRunner::read_output(Output& o) {
  // One chunk per stream per turn, so a flood on one stream cannot starve the other, the
  // socket or the timer.
  char buf[kChunkBytes];
  ssize_t n = read(o.fd.get(), buf, sizeof buf);
  if (n > 0) {
    deliver(o, std::string_view(buf, static_cast<size_t>(n)));
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    o.fd.reset();
  }
}

void StepRunner::deliver(Output& o, std::string_view data) {
  if (o.truncated) return;  // past the cap: drained and dropped
  const uint64_t cap = step_.limits.output_bytes;
  if (o.sent + data.size() > cap) {
    data = data.substr(0, cap - o.sent);
    o.truncated = true;
    if (!facts_.output_exceeded) {
      facts_.output_exceeded = o.name;
      log("step " + step_.step + ": " + o.name + " passed the output limit of " +
          std::to_string(cap) + " bytes");
    }
    kill_everything();
  }
  if (data.empty()) return;
  o.sent += data.size();
  conn_.send(
      messages::make_message(messages::OutputChunk{step_.step, o.stream, std::string(data)}));
}

void StepRunner::on_reaped(const Reaped& r) {
  if (r.pid != pid_ || reaped_) return;
  reaped_ = true;
  usage_ = r.usage;
  ended_ms_ = monotonic_ms();
  facts_.wait_status = r.status;
  // Nothing of the step may outlive its main process: daemons, orphans, a fork bomb's leaves.
  kill_everything();
  drain_deadline_ms_ = ended_ms_ + kDrainMs;
  timer_.reset();
  stdin_.reset();
}

void StepRunner::cancel(const std::string& reason) {
  if (reaped_) return;
  facts_.cancelled = true;
  log("step " + step_.step + ": cancelled (" + reason + ")");
  kill_everything();
}

void StepRunner::tick() {
  if (reaped_ || !cgroups_.has_cpuacct()) return;
  int64_t now = monotonic_ms();
  if (now < next_cpu_check_ms_) return;
  next_cpu_check_ms_ = now + kCpuCheckMs;
  // RLIMIT_CPU is per process; the cgroup sees the step as a whole (a job that forks workers).
  auto ns = cgroups_.cpu_ns();
  if (ns && *ns >= uint64_t{step_.limits.cpu_ms} * 1'000'000 && !facts_.cpu_exceeded) {
    facts_.cpu_exceeded = true;
    log("step " + step_.step + ": cpu limit of " + std::to_string(step_.limits.cpu_ms) +
        " ms reached");
    kill_everything();
  }
}

int StepRunner::timeout_ms() const {
  int64_t now = monotonic_ms();
  int64_t deadline = -1;
  if (reaped_)
    deadline = drain_deadline_ms_;
  else if (cgroups_.has_cpuacct())
    deadline = next_cpu_check_ms_;
  if (deadline < 0) return -1;
  return static_cast<int>(std::max<int64_t>(0, deadline - now));
}

bool StepRunner::done() const {
  if (!reaped_) return false;
  return (!out_[0].fd && !out_[1].fd) || monotonic_ms() >= drain_deadline_ms_;
}

void StepRunner::kill_everything() {
  if (pid_ > 0) {
    if (!reaped_) kill(pid_, SIGKILL);
    killpg(pid_, SIGKILL);
  }
  cgroups_.kill_all();
  // As PID 1 of the machine every other process belongs to the step; kill(-1) spares only us.
  if (cfg_.pid1) kill(-1, SIGKILL);
}

std::string StepRunner::read_report() {
  if (!report_) return {};
  char buf[4096];
  ssize_t n = read(report_.get(), buf, sizeof buf);
  report_.reset();
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

messages::StepExit StepRunner::finish() {
  finished_ = true;
  for (auto& o : out_) o.fd.reset();
  kill_everything();
  auto report = read_report();
  if (!report.empty() && report[0] == kReportSetup) facts_.setup_error = report.substr(1);
  if (!report.empty() && report[0] == kReportExec) facts_.exec_error = report.substr(1);

  auto tv_ms = [](const timeval& tv) { return uint64_t(tv.tv_sec) * 1000 + tv.tv_usec / 1000; };
  auto cpu_ns = cgroups_.cpu_ns();
  facts_.cpu_ms = cpu_ns ? *cpu_ns / 1'000'000 : tv_ms(usage_.ru_utime) + tv_ms(usage_.ru_stime);
  auto peak = cgroups_.peak_memory_bytes();
  facts_.peak_memory_kib = peak ? *peak / 1024 : static_cast<uint64_t>(usage_.ru_maxrss);
  facts_.oom_kills = cgroups_.oom_kills();
  facts_.memory_failcnt = cgroups_.memory_failcnt();
  cgroups_.remove();

  messages::StepExit e;
  e.step = step_.step;
  e.wall_ms = static_cast<uint64_t>(std::max<int64_t>(0, ended_ms_ - started_ms_));
  e.cpu_ms = facts_.cpu_ms;
  e.peak_memory_kib = facts_.peak_memory_kib;
  e.stdout_truncated = out_[0].truncated;
  e.stderr_truncated = out_[1].truncated;
  decide(facts_, e);
  log("step " + step_.step + " #" + std::to_string(index_) + ": " +
      std::string(messages::to_string(e.verdict)) +
      (e.message.empty() ? "" : " (" + e.message + ")") + ", wall " + std::to_string(e.wall_ms) +
      " ms, cpu " + std::to_string(e.cpu_ms) + " ms");
  return e;
}

}  // namespace berth::agent
