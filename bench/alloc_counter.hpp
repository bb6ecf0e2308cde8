#pragma once
// Counts heap allocations made through the global operator new of the benchmark
// binary (alloc_counter.cpp replaces it), so benchmarks can report allocations
// per item as a counter.
#include <cstdint>

namespace fredsim::bench {
std::uint64_t allocation_count();
}  // namespace fredsim::bench
