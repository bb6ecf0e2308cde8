#pragma once
// Statistics helpers that results and comparisons read.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fredsim {

/// A summary of a set of samples: count, mean, p50, p99, min, max.
struct Summary {
  std::size_t count = 0;
  double mean = 0;
  std::uint64_t p50 = 0;
  std::uint64_t p99 = 0;
  std::uint64_t min = 0;
  std::uint64_t max = 0;
};

/// Collects 64-bit samples (cycle counts); summary() sorts a copy.
/// Percentiles are nearest-rank: the smallest sample with at least p% at or below.
class Samples {
 public:
  void reserve(std::size_t n) { values_.reserve(n); }
  void add(std::uint64_t v) { values_.push_back(v); }
  std::size_t size() const { return values_.size(); }
  const std::vector<std::uint64_t>& values() const { return values_; }
  Summary summary() const;

 private:
  std::vector<std::uint64_t> values_;
};

/// Nearest-rank percentile of sorted values (p in 0..100); 0 when empty.
std::uint64_t percentile_sorted(const std::vector<std::uint64_t>& sorted, double p);

}  // namespace fredsim
