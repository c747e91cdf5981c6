#pragma once
// A Prometheus histogram (cumulative buckets, sum, count) that any thread may observe into, and
// its text exposition format (prometheus.io/docs/instrumenting/exposition_formats).
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <ostream>
#include <string_view>
#include <vector>

namespace berth {

class Histogram {
 public:
  // Upper bounds of the buckets, ascending; +Inf is implied.
  explicit Histogram(std::initializer_list<double> bounds)
      : bounds_(bounds), counts_(bounds_.size() + 1) {}

  void observe(double v) {
    std::lock_guard lock(mu_);
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += v;
    ++count_;
  }

  // "# HELP", "# TYPE", then name_bucket{le=...}, name_sum and name_count.
  void render(std::ostream& o, std::string_view name, std::string_view help) const {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    std::lock_guard lock(mu_);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += counts_[i];
      o << name << "_bucket{le=\"" << bounds_[i] << "\"} " << cumulative << "\n";
    }
    cumulative += counts_.back();
    o << name << "_bucket{le=\"+Inf\"} " << cumulative << "\n"
      << name << "_sum " << sum_ << "\n"
      << name << "_count " << count_ << "\n";
  }

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // last: +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace berth
