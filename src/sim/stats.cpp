#include "fredsim/sim/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fredsim {

std::uint64_t percentile_sorted(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  std::size_t idx = rank <= 1.0 ? 0 : static_cast<std::size_t>(rank) - 1;
  idx = std::min(idx, sorted.size() - 1);
  return sorted[idx];
}

Summary Samples::summary() const {
  Summary s;
  s.count = values_.size();
  if (values_.empty()) return s;
  std::vector<std::uint64_t> sorted = values_;
  std::sort(sorted.begin(), sorted.end());
  const long double total = std::accumulate(sorted.begin(), sorted.end(), 0.0L);
  s.mean = static_cast<double>(total / static_cast<long double>(sorted.size()));
  s.p50 = percentile_sorted(sorted, 50);
  s.p99 = percentile_sorted(sorted, 99);
  s.min = sorted.front();
  s.max = sorted.back();
  return s;
}

}  // namespace fredsim
