#include "actors/run_plan.hpp"

namespace berth::actors {

using messages::Phase;
using messages::PlanNode;

std::vector<PlanNode> build_plan(const messages::JobSpec&, const images::Language& lang) {
  std::vector<PlanNode> plan = {{.name = "image", .phase = Phase::prepare},
                                {.name = "ip", .phase = Phase::prepare},
                                {.name = "boot", .phase = Phase::prepare}};
  if (!lang.compile.empty()) plan.push_back({.name = "compile", .phase = Phase::execute});
  plan.push_back({.name = "run", .phase = Phase::execute});
  return plan;
}

std::vector<messages::ExecStep> build_steps(const messages::JobSpec& spec,
                                            const images::Language& lang) {
  auto env = lang.env;
  for (auto& [k, v] : spec.env) env[k] = v;
  std::vector<messages::ExecStep> steps;
  if (!lang.compile.empty()) {
    messages::ExecStep c;
    c.step = "compile";
    c.argv = lang.compile;
    c.env = env;
    c.limits = spec.limits;
    steps.push_back(std::move(c));
  }
  messages::ExecStep r;
  r.step = "run";
  r.argv = lang.run;
  r.argv.insert(r.argv.end(), spec.args.begin(), spec.args.end());
  r.env = env;
  r.stdin_data = spec.stdin_data;
  r.limits = spec.limits;
  steps.push_back(std::move(r));
  steps.front().files = spec.files;
  return steps;
}

}  // namespace berth::actors
