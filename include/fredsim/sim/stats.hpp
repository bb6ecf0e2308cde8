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

/// Collects 64-bit samples (cycle counts) in bounded memory. The first
/// kExactCap samples are kept as they are, and summary() is exact over them.
/// Past that they are folded into a log-linear histogram: count, sum, mean, min
/// and max stay exact; p50 and p99 are within kRelativeError of the exact
/// nearest-rank value. Memory is at most kExactCap values plus the histogram,
/// however many samples are added.
class Samples {
 public:
  /// How many samples are kept exactly.
  static constexpr std::size_t kExactCap = 65536;
  /// Bits of a value the histogram keeps below its leading one: each power of
  /// two is cut into 2^kSubBits buckets.
  static constexpr unsigned kSubBits = 8;
  /// Bound on |reported - exact| / exact for a percentile once folded.
  static constexpr double kRelativeError = 1.0 / (1u << (kSubBits + 1));

  __extension__ using Sum = unsigned __int128;

  void reserve(std::size_t n);
  /// Inline, with no first-sample case (min_ starts above every value, max_
  /// below): one per NMI when the kernel records dispatch times.
  void add(std::uint64_t v) {
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
    ++count_;
    sum_ += v;
    if (buckets_.empty() && values_.size() < kExactCap) [[likely]] {
      values_.push_back(v);
      return;
    }
    add_folded(v);
  }
  std::uint64_t size() const { return count_; }
  /// The exact sum of every sample added (no overflow below 2^64 samples).
  Sum sum() const { return sum_; }
  /// Past kExactCap: the samples live in the histogram only.
  bool folded() const { return !buckets_.empty(); }
  Summary summary() const;

  /// The histogram's bucket of a value and the value a bucket reports (its
  /// midpoint); exposed for the accuracy tests.
  static std::size_t bucket_of(std::uint64_t v);
  static std::uint64_t bucket_low(std::size_t b);
  static std::uint64_t bucket_width(std::size_t b);

 private:
  /// add() past the exact samples: folds them first if not yet folded.
  void add_folded(std::uint64_t v);
  void fold();
  std::uint64_t folded_percentile(double p) const;

  std::vector<std::uint64_t> values_;   // exact, until folded
  std::vector<std::uint64_t> buckets_;  // sample counts, once folded
  std::uint64_t count_ = 0;
  Sum sum_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};  // read only once a sample is in
  std::uint64_t max_ = 0;
};

/// Nearest-rank percentile of sorted values (p in 0..100); 0 when empty.
std::uint64_t percentile_sorted(const std::vector<std::uint64_t>& sorted, double p);

}  // namespace fredsim
