#include "fredsim/sim/stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace fredsim {
namespace {
// Values below 2^(kSubBits + 1) have a bucket each (width 1); above, bucket
// widths double with each power of two and stay at most value / 2^kSubBits.
constexpr unsigned kLinearBits = Samples::kSubBits + 1;
constexpr std::uint64_t kLinear = std::uint64_t{1} << kLinearBits;
constexpr std::uint64_t kPerOctave = std::uint64_t{1} << Samples::kSubBits;
constexpr std::size_t kBuckets = kLinear + (64 - kLinearBits) * kPerOctave;

/// Nearest-rank: the 1-based rank of percentile p among n samples.
std::uint64_t nearest_rank(double p, std::uint64_t n) {
  const double rank = std::ceil(p / 100.0 * static_cast<double>(n));
  if (rank <= 1.0) return 1;
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(rank), n);
}
}  // namespace

std::uint64_t percentile_sorted(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[nearest_rank(p, sorted.size()) - 1];
}

std::size_t Samples::bucket_of(std::uint64_t v) {
  if (v < kLinear) return static_cast<std::size_t>(v);
  const unsigned top = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= kLinearBits
  const std::uint64_t sub = (v >> (top - kSubBits)) & (kPerOctave - 1);
  return static_cast<std::size_t>(kLinear + (top - kLinearBits) * kPerOctave + sub);
}

std::uint64_t Samples::bucket_low(std::size_t b) {
  if (b < kLinear) return b;
  const std::size_t i = b - kLinear;
  const unsigned top = static_cast<unsigned>(i / kPerOctave) + kLinearBits;
  const std::uint64_t sub = i % kPerOctave;
  return (std::uint64_t{1} << top) | (sub << (top - kSubBits));
}

std::uint64_t Samples::bucket_width(std::size_t b) {
  if (b < kLinear) return 1;
  const unsigned top = static_cast<unsigned>((b - kLinear) / kPerOctave) + kLinearBits;
  return std::uint64_t{1} << (top - kSubBits);
}

void Samples::reserve(std::size_t n) {
  if (!folded()) values_.reserve(std::min(n, kExactCap));
}

void Samples::add_folded(std::uint64_t v) {
  if (!folded()) fold();
  ++buckets_[bucket_of(v)];
}

void Samples::fold() {
  // One allocation, once: from here on memory stays as it is.
  buckets_.assign(kBuckets, 0);
  for (std::uint64_t v : values_)
    ++buckets_[bucket_of(v)];
  std::vector<std::uint64_t>().swap(values_);
}

std::uint64_t Samples::folded_percentile(double p) const {
  const std::uint64_t rank = nearest_rank(p, count_);
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) {
      // The bucket's midpoint, inside the range the samples really span.
      const std::uint64_t mid = bucket_low(b) + (bucket_width(b) - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

Summary Samples::summary() const {
  Summary s;
  s.count = static_cast<std::size_t>(count_);
  if (count_ == 0) return s;
  s.mean = static_cast<double>(static_cast<long double>(sum_) / static_cast<long double>(count_));
  s.min = min_;
  s.max = max_;
  if (folded()) {
    s.p50 = folded_percentile(50);
    s.p99 = folded_percentile(99);
    return s;
  }
  std::vector<std::uint64_t> sorted = values_;
  std::sort(sorted.begin(), sorted.end());
  s.p50 = percentile_sorted(sorted, 50);
  s.p99 = percentile_sorted(sorted, 99);
  return s;
}

}  // namespace fredsim
