#pragma once
// Statistics helpers that results and comparisons read.
#include <bit>
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
/// kExactCap samples are summarised exactly. Past that they are folded into a
/// log-linear histogram: count, sum, mean, min and max stay exact; p50 and p99
/// are within kRelativeError of the exact nearest-rank value. Memory is bounded
/// however many samples are added.
///
/// A simulation's samples repeat a handful of values (dispatch cycles are
/// deterministic), so both stages count them in a small open-addressing table,
/// value (or, folded, histogram bucket) to count, and a summary sorts only the
/// distinct keys. Past kTableMax distinct keys the table gives way to what it
/// stands for: every value in a list (exact) or the full bucket array (folded).
/// Either way the summary is the same as sorting every sample; the table only
/// keeps memory, and the pages first written, to what the samples need.
class Samples {
 public:
  /// How many samples are kept exactly.
  static constexpr std::size_t kExactCap = 65536;
  /// Bits of a value the histogram keeps below its leading one: each power of
  /// two is cut into 2^kSubBits buckets.
  static constexpr unsigned kSubBits = 8;
  /// Bound on |reported - exact| / exact for a percentile once folded.
  static constexpr double kRelativeError = 1.0 / (1u << (kSubBits + 1));
  /// Most distinct keys the counting table holds (at most half full).
  static constexpr std::size_t kTableMax = 2048;

  __extension__ using Sum = unsigned __int128;

  /// Allocates the counting table at setup, so that add() allocates nothing
  /// until the samples take more distinct values than it starts with.
  void reserve();
  /// Inline, with no first-sample case (min_ starts above every value, max_
  /// below): one per NMI when the kernel records dispatch times.
  void add(std::uint64_t v) {
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
    ++count_;
    sum_ += v;
    // The same value as the last one counted: its slot is known.
    if (v == last_value_ && count_ <= cache_until_) [[likely]] {
      ++table_[last_slot_].count;
      return;
    }
    if (mode_ == Mode::exact_table && count_ <= kExactCap) {
      if (bump(v, v)) return;
    } else if (mode_ == Mode::folded_table) {
      if (bump(bucket_of(v), v)) return;
    }
    add_slow(v);
  }
  std::uint64_t size() const { return count_; }
  /// The exact sum of every sample added (no overflow below 2^64 samples).
  Sum sum() const { return sum_; }
  /// Past kExactCap: the samples live in the histogram only.
  bool folded() const { return mode_ == Mode::folded_table || mode_ == Mode::folded_dense; }
  Summary summary() const;

  /// The histogram's bucket of a value and the value a bucket reports (its
  /// midpoint); exposed for the accuracy tests.
  static std::size_t bucket_of(std::uint64_t v) {
    if (v < kLinear) return static_cast<std::size_t>(v);
    const unsigned top = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= kLinearBits
    const std::uint64_t sub = (v >> (top - kSubBits)) & (kPerOctave - 1);
    return static_cast<std::size_t>(kLinear + (top - kLinearBits) * kPerOctave + sub);
  }
  static std::uint64_t bucket_low(std::size_t b);
  static std::uint64_t bucket_width(std::size_t b);

 private:
  // Values below 2^(kSubBits + 1) have a bucket each (width 1); above, bucket
  // widths double with each power of two and stay at most value / 2^kSubBits.
  static constexpr unsigned kLinearBits = kSubBits + 1;
  static constexpr std::uint64_t kLinear = std::uint64_t{1} << kLinearBits;
  static constexpr std::uint64_t kPerOctave = std::uint64_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = kLinear + (64 - kLinearBits) * kPerOctave;

  enum class Mode : std::uint8_t {
    empty,         // nothing allocated yet
    exact_table,   // table_: value -> count
    exact_values,  // values_: every value
    folded_table,  // table_: bucket -> count
    folded_dense,  // buckets_: count per bucket
  };
  struct Entry {
    std::uint64_t key = 0;
    std::uint64_t count = 0;  // 0: the slot is empty
  };

  std::size_t slot_of(std::uint64_t key) const {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  /// Counts one more of a key already in the table (value v's), and remembers
  /// its slot for v; false if it is not there.
  bool bump(std::uint64_t key, std::uint64_t v) {
    // Linear probing from the key's hash; an empty slot has count 0.
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      Entry& e = table_[i];
      if (e.count == 0) return false;
      if (e.key == key) {
        ++e.count;
        last_value_ = v;
        last_slot_ = i;
        // Up to the fold, or for good once folded.
        cache_until_ = mode_ == Mode::exact_table ? kExactCap : ~std::uint64_t{0};
        return true;
      }
    }
  }
  /// add() for every case the exact table's hit does not cover.
  void add_slow(std::uint64_t v);
  /// Adds n to key's count in the table; false (nothing changed) when that would
  /// take the table past kTableMax keys.
  bool table_add(std::uint64_t key, std::uint64_t n);
  void table_init(std::size_t slots);
  /// Frees the table (its samples now live in the list or the bucket array).
  void table_drop();
  /// At the first sample past kExactCap: the exact keys become bucket counts.
  void fold();
  /// Adds n samples to a bucket once folded, giving up the table if full.
  void fold_add(std::size_t bucket, std::uint64_t n);
  /// The folded table becomes the full bucket array.
  void fold_dense();
  /// The table's keys with their counts, in key order.
  std::vector<Entry> sorted_entries() const;
  /// The entry holding the sample of nearest rank `rank` among sorted entries
  /// (null past their counts).
  static const Entry* at_rank(const std::vector<Entry>& sorted, std::uint64_t rank);
  /// `sorted`: the table's sorted entries when folded_table (else unused).
  std::uint64_t folded_percentile(double p, const std::vector<Entry>& sorted) const;

  Mode mode_ = Mode::empty;
  std::vector<Entry> table_;
  std::size_t mask_ = 0;
  unsigned shift_ = 63;
  std::size_t keys_ = 0;  // distinct keys in table_
  // The last value bump() counted and its slot, valid while count_ is at most
  // cache_until_ (0: not valid; a new table or mode resets it).
  std::uint64_t last_value_ = 0;
  std::size_t last_slot_ = 0;
  std::uint64_t cache_until_ = 0;
  std::vector<std::uint64_t> values_;   // exact_values
  std::vector<std::uint64_t> buckets_;  // folded_dense
  std::uint64_t count_ = 0;
  Sum sum_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};  // read only once a sample is in
  std::uint64_t max_ = 0;
};

/// Nearest-rank percentile of sorted values (p in 0..100); 0 when empty.
std::uint64_t percentile_sorted(const std::vector<std::uint64_t>& sorted, double p);

}  // namespace fredsim
