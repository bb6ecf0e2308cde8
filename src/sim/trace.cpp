#include "fredsim/sim/trace.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <string>

namespace fredsim {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

namespace {

void append_value(std::string& out, const TraceValue& v, bool json);

void append_fields(std::string& out, std::span<const TraceField> fields, bool json) {
  bool first = true;
  for (const auto& f : fields) {
    if (json) {
      if (!first) out += ',';
      append_json_string(out, f.name);
      out += ':';
    } else {
      if (!first) out += ' ';
      out += f.name;
      out += '=';
    }
    first = false;
    append_value(out, f.value, json);
  }
}

void append_value(std::string& out, const TraceValue& v, bool json) {
  auto it = std::back_inserter(out);
  using K = TraceValue::Kind;
  switch (v.kind) {
    case K::u64:
      fmt::format_to(it, "{}", v.u);
      break;
    case K::i64:
      fmt::format_to(it, "{}", static_cast<std::int64_t>(v.u));
      break;
    case K::hex:
      if (json) {
        fmt::format_to(it, "\"{:#x}\"", v.u);
      } else {
        fmt::format_to(it, "{:#x}", v.u);
      }
      break;
    case K::boolean:
      out += v.u ? "true" : "false";
      break;
    case K::str:
      if (json) {
        append_json_string(out, v.s);
      } else {
        out += v.s;
      }
      break;
    case K::cpu_list:
      out += '[';
      for (std::size_t i = 0; i < v.cpus.size(); ++i) {
        if (i) out += ',';
        fmt::format_to(it, "{}", v.cpus[i]);
      }
      out += ']';
      break;
    case K::object:
      out += '{';
      append_fields(out, v.fields, json);
      out += '}';
      break;
  }
}

}  // namespace

const TraceField* TraceRecord::find(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void Tracer::remove_sink(TraceSink& sink) {
  sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), &sink), sinks_.end());
}

void append_trace_text(std::string& out, const TraceRecord& r) {
  auto it = std::back_inserter(out);
  if (r.cpu == kNoCpu) {
    fmt::format_to(it, "cycle={} cpu=- {}", r.cycle, r.event);
  } else {
    fmt::format_to(it, "cycle={} cpu={} {}", r.cycle, r.cpu, r.event);
  }
  if (!r.fields.empty()) {
    out += ' ';
    append_fields(out, r.fields, false);
  }
}

void append_trace_json(std::string& out, const TraceRecord& r) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"cycle\":{},\"cpu\":", r.cycle);
  if (r.cpu == kNoCpu) {
    out += "null";
  } else {
    fmt::format_to(it, "{}", r.cpu);
  }
  out += ",\"event\":";
  append_json_string(out, r.event);
  if (!r.fields.empty()) {
    out += ',';
    append_fields(out, r.fields, true);
  }
  out += '}';
}

void append_trace_fields_json(std::string& out, std::span<const TraceField> fields) {
  append_fields(out, fields, true);
}

std::string format_trace_text(const TraceRecord& r) {
  std::string out;
  append_trace_text(out, r);
  return out;
}

std::string format_trace_json(const TraceRecord& r) {
  std::string out;
  append_trace_json(out, r);
  return out;
}

void TextTraceSink::record(const TraceRecord& r) {
  line_.clear();
  append_trace_text(line_, r);
  line_ += '\n';
  out_.write(line_.data(), static_cast<std::streamsize>(line_.size()));
}
void TextTraceSink::flush() {
  out_.flush();
}
void JsonlTraceSink::record(const TraceRecord& r) {
  line_.clear();
  append_trace_json(line_, r);
  line_ += '\n';
  out_.write(line_.data(), static_cast<std::streamsize>(line_.size()));
}
void JsonlTraceSink::flush() {
  out_.flush();
}
void MemoryTraceSink::record(const TraceRecord& r) {
  lines_.push_back(format_trace_text(r));
}

}  // namespace fredsim
