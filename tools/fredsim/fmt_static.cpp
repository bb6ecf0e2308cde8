// fmt's implementation for the statically linked fredsim command
// (FREDSIM_STATIC_CLI). Debian's libfmt-dev ships fmt compiled as a shared
// library only, but fmt's headers hold its whole implementation
// (fmt/format-inl.h): this file compiles it once, without FMT_HEADER_ONLY, so
// its functions are ordinary definitions the command links instead of
// libfmt.so's. The two templates below are the ones fmt's own compiled library
// instantiates that fredsim's code calls and format-inl.h leaves to it.
#include <fmt/format-inl.h>

template char fmt::detail::decimal_point_impl<char>(fmt::detail::locale_ref);
template fmt::detail::thousands_sep_result<char> fmt::detail::thousands_sep_impl<char>(
    fmt::detail::locale_ref);
