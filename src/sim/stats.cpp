#include "fredsim/sim/stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace fredsim {
namespace {
constexpr std::size_t kFirstSlots = 64;

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

void Samples::reserve() {
  if (mode_ != Mode::empty) return;
  table_init(kFirstSlots);
  mode_ = Mode::exact_table;
}

void Samples::table_init(std::size_t slots) {
  table_.assign(slots, Entry{});
  mask_ = slots - 1;
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(slots));
  keys_ = 0;
  cache_until_ = 0;
}

void Samples::table_drop() {
  std::vector<Entry>().swap(table_);
  keys_ = 0;
  cache_until_ = 0;
}

bool Samples::table_add(std::uint64_t key, std::uint64_t n) {
  std::size_t i = slot_of(key);
  for (; table_[i].count != 0; i = (i + 1) & mask_) {
    if (table_[i].key == key) {
      table_[i].count += n;
      return true;
    }
  }
  if (keys_ + 1 > kTableMax) return false;
  if ((keys_ + 1) * 2 > table_.size()) {
    // At most half full: twice the slots, every key placed again.
    std::vector<Entry> old;
    old.swap(table_);
    table_init(old.size() * 2);
    for (const Entry& e : old)
      if (e.count != 0) table_add(e.key, e.count);
    return table_add(key, n);
  }
  table_[i] = Entry{key, n};
  ++keys_;
  return true;
}

std::vector<Samples::Entry> Samples::sorted_entries() const {
  std::vector<Entry> out;
  out.reserve(keys_);
  for (const Entry& e : table_)
    if (e.count != 0) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
  return out;
}

void Samples::add_slow(std::uint64_t v) {
  // count_, sum_, min_ and max_ already include v.
  switch (mode_) {
    case Mode::empty:
      reserve();
      [[fallthrough]];
    case Mode::exact_table:
      if (count_ > kExactCap) break;  // fold below
      if (table_add(v, 1)) return;
      // More distinct values than the table takes: list them all from here on.
      values_.reserve(kExactCap);
      for (const Entry& e : table_)
        values_.insert(values_.end(), e.count, e.key);
      table_drop();
      mode_ = Mode::exact_values;
      values_.push_back(v);
      return;
    case Mode::exact_values:
      if (count_ > kExactCap) break;  // fold below
      values_.push_back(v);
      return;
    case Mode::folded_table:
      if (table_add(bucket_of(v), 1)) return;
      fold_dense();
      ++buckets_[bucket_of(v)];
      return;
    case Mode::folded_dense:
      ++buckets_[bucket_of(v)];
      return;
  }
  fold();
  add_slow(v);
}

void Samples::fold() {
  // Once, at the first sample past kExactCap: the exact keys (or values) become
  // bucket counts; from here on memory stays as it is.
  std::vector<Entry> exact;
  exact.swap(table_);
  std::vector<std::uint64_t> values;
  values.swap(values_);
  table_init(kFirstSlots);
  mode_ = Mode::folded_table;
  for (const Entry& e : exact)
    if (e.count != 0) fold_add(bucket_of(e.key), e.count);
  for (std::uint64_t x : values)
    fold_add(bucket_of(x), 1);
}

void Samples::fold_add(std::size_t bucket, std::uint64_t n) {
  if (mode_ == Mode::folded_table) {
    if (table_add(bucket, n)) return;
    fold_dense();
  }
  buckets_[bucket] += n;
}

void Samples::fold_dense() {
  buckets_.assign(kBuckets, 0);
  for (const Entry& e : table_)
    if (e.count != 0) buckets_[e.key] += e.count;
  table_drop();
  mode_ = Mode::folded_dense;
}

const Samples::Entry* Samples::at_rank(const std::vector<Entry>& sorted, std::uint64_t rank) {
  // The first key whose running count reaches the rank.
  std::uint64_t seen = 0;
  for (const Entry& e : sorted) {
    seen += e.count;
    if (seen >= rank) return &e;
  }
  return nullptr;
}

std::uint64_t Samples::folded_percentile(double p, const std::vector<Entry>& sorted) const {
  const std::uint64_t rank = nearest_rank(p, count_);
  // The bucket's midpoint, inside the range the samples really span.
  const auto report = [&](std::size_t b) {
    const std::uint64_t mid = bucket_low(b) + (bucket_width(b) - 1) / 2;
    return std::clamp(mid, min_, max_);
  };
  if (mode_ == Mode::folded_table) {
    const Entry* e = at_rank(sorted, rank);
    return e != nullptr ? report(static_cast<std::size_t>(e->key)) : max_;
  }
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) return report(b);
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
  // The table's keys, sorted once for both percentiles.
  std::vector<Entry> sorted;
  if (mode_ == Mode::exact_table || mode_ == Mode::folded_table) sorted = sorted_entries();
  if (folded()) {
    s.p50 = folded_percentile(50, sorted);
    s.p99 = folded_percentile(99, sorted);
    return s;
  }
  if (mode_ == Mode::exact_table) {
    const auto value_at = [&](double p) {
      const Entry* e = at_rank(sorted, nearest_rank(p, count_));
      return e != nullptr ? e->key : max_;
    };
    s.p50 = value_at(50);
    s.p99 = value_at(99);
    return s;
  }
  std::vector<std::uint64_t> values = values_;
  std::sort(values.begin(), values.end());
  s.p50 = percentile_sorted(values, 50);
  s.p99 = percentile_sorted(values, 99);
  return s;
}

}  // namespace fredsim
