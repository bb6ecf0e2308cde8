// disabled_if: a small boolean language over the target and the test's settings
// (docs/suites.md "disabled_if"). kvm-unit-tests evaluates its disabled_if with
// bash (scripts/runtime.bash: `eval $disabled_if`), e.g. [[ "$TARGET" != qemu ]];
// fredsim parses the same spelling, plus a plainer one (TARGET == idt), and never
// runs a shell.
#include <fmt/format.h>

#include <cassert>
#include <charconv>
#include <cstdint>
#include <optional>

#include "fredsim/suite/condition.hpp"
#include "scenario/input.hpp"

namespace fredsim::suite {

namespace input = scenario::input;
namespace detail {

namespace {

constexpr std::size_t kMaxDepth = 64;  // nesting of ( [[ !, so a hostile cfg cannot overflow

struct VarName {
  std::string_view name;
  int var;  // Condition::Var, as an int: the enum is private to Condition
};
constexpr VarName kVars[] = {{"TARGET", 0}, {"DELIVERY", 1}, {"NMI_SOURCE", 2}, {"SMP", 3},
                             {"ARCH", 4},   {"ACCEL", 5},    {"MACHINE", 6},    {"FILE", 7}};

std::optional<int> var_by_name(std::string_view n) {
  for (const auto& v : kVars) {
    if (v.name == n) return v.var;
  }
  return std::nullopt;
}

std::string var_list() {
  std::string out;
  for (const auto& v : kVars) {
    if (!out.empty()) out += ", ";
    out += v.name;
  }
  return out;
}

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':' || c == '/' || c == '+' || c == '@' || c == '%' ||
         c == ',' || c == '^';
}

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

struct Token {
  enum class Kind : std::uint8_t {
    end,
    lparen,
    rparen,
    lbrackets,
    rbrackets,
    bang,
    and_,
    or_,
    op,
    word,    // a bare word
    quoted,  // a quoted literal
    var,     // $X, ${X}, "$X"
  };
  Kind kind = Kind::end;
  std::string text;  // the word, the literal, the variable name, the operator
  std::size_t at = 0;
};

}  // namespace

class ConditionParser {
 public:
  ConditionParser(std::string_view text, const TargetSet& targets)
      : text_(text), targets_(targets) {}

  Result<Condition> run() {
    Condition c;
    c.text_ = std::string(text_);
    out_ = &c;
    if (auto st = lex(); !st) return st.error();
    if (tokens_.size() == 1) return Error{"empty condition"};
    auto root = parse_or();
    if (!root) return root.error();
    if (peek().kind != Token::Kind::end) return unexpected();
    // Every node is added after its operands, so the root is the last one; eval
    // relies on that order.
    assert(*root + 1 == c.nodes_.size());
    return c;
  }

 private:
  using Node = Condition::Node;
  using Kind = Token::Kind;

  Status lex() {
    std::size_t i = 0;
    const std::string_view s = text_;
    auto push = [&](Kind k, std::string t, std::size_t at) {
      tokens_.push_back(Token{k, std::move(t), at});
    };
    while (i < s.size()) {
      const char c = s[i];
      const std::size_t at = i;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++i;
      } else if (c == '(') {
        push(Kind::lparen, "(", at), ++i;
      } else if (c == ')') {
        push(Kind::rparen, ")", at), ++i;
      } else if (s.substr(i, 2) == "[[") {
        push(Kind::lbrackets, "[[", at), i += 2;
      } else if (s.substr(i, 2) == "]]") {
        push(Kind::rbrackets, "]]", at), i += 2;
      } else if (c == '[' || c == ']') {
        return Error{
            fmt::format("single '{}' at column {}: group with [[ ... ]] or ( ... )", c, at + 1)};
      } else if (s.substr(i, 2) == "&&") {
        push(Kind::and_, "&&", at), i += 2;
      } else if (s.substr(i, 2) == "||") {
        push(Kind::or_, "||", at), i += 2;
      } else if (s.substr(i, 2) == "==" || s.substr(i, 2) == "!=" || s.substr(i, 2) == "<=" ||
                 s.substr(i, 2) == ">=") {
        push(Kind::op, std::string(s.substr(i, 2)), at), i += 2;
      } else if (c == '=' || c == '<' || c == '>') {
        push(Kind::op, std::string(1, c), at), ++i;
      } else if (c == '!') {
        push(Kind::bang, "!", at), ++i;
      } else if (c == '$') {
        auto v = variable(s, i);
        if (!v) return v.error();
        push(Kind::var, *v, at);
      } else if (c == '\'' || c == '"') {
        const auto close = s.find(c, i + 1);
        if (close == std::string_view::npos) {
          return Error{fmt::format("unterminated {} quote at column {}", c, at + 1)};
        }
        std::string_view inner = s.substr(i + 1, close - i - 1);
        if (c == '"' && inner.find('$') != std::string_view::npos) {
          // "$TARGET" is bash's way to compare a variable; nothing else is expanded.
          std::size_t j = 0;
          auto v = variable(inner, j);
          if (!v || j != inner.size()) {
            return Error{
                fmt::format("\"{}\" at column {}: only a whole \"$VARIABLE\" is expanded in quotes",
                            input::clip(inner), at + 1)};
          }
          push(Kind::var, *v, at);
        } else {
          push(Kind::quoted, std::string(inner), at);
        }
        i = close + 1;
      } else if (word_char(c)) {
        std::size_t j = i;
        while (j < s.size() && word_char(s[j]))
          ++j;
        std::string w(s.substr(i, j - i));
        const Kind k = var_by_name(w) ? Kind::var : Kind::word;
        push(k, std::move(w), at);
        i = j;
      } else {
        return Error{fmt::format("unexpected character '{}' at column {}",
                                 static_cast<unsigned char>(c) < 0x20 ? '?' : c, at + 1)};
      }
    }
    push(Kind::end, "", s.size());
    return {};
  }

  /// $NAME or ${NAME} at s[i]; advances i past it.
  static Result<std::string> variable(std::string_view s, std::size_t& i) {
    const std::size_t at = i;
    ++i;  // '$'
    const bool braced = i < s.size() && s[i] == '{';
    if (braced) ++i;
    const std::size_t b = i;
    while (i < s.size() && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                            s[i] == '_' || (s[i] >= '0' && s[i] <= '9')))
      ++i;
    std::string name(s.substr(b, i - b));
    if (braced) {
      if (i >= s.size() || s[i] != '}') {
        return Error{fmt::format("'${{' at column {} needs a closing '}}'", at + 1)};
      }
      ++i;
    }
    if (!var_by_name(name)) {
      return Error{
          fmt::format("unknown variable '${}' (known: {})", input::clip(name), var_list())};
    }
    return name;
  }

  const Token& peek() const { return tokens_[pos_]; }
  const Token& take() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

  Error unexpected() const {
    const Token& t = peek();
    if (t.kind == Kind::end) return Error{"unexpected end of the condition"};
    return Error{fmt::format("unexpected '{}' at column {}", input::clip(t.text), t.at + 1)};
  }

  std::size_t add(Node n) {
    out_->nodes_.push_back(std::move(n));
    return out_->nodes_.size() - 1;
  }

  // The running left operand is a plain index, not a Result assigned in the loop
  // (GCC 12 with -O1 and sanitizers warns maybe-uninitialized on the latter).
  Result<std::size_t> parse_or() {
    if (++depth_ > kMaxDepth) return Error{"the condition is nested too deeply"};
    auto first = parse_and();
    if (!first) return first;
    std::size_t left = *first;
    while (peek().kind == Kind::or_) {
      take();
      auto right = parse_and();
      if (!right) return right;
      left = combine(Node::Kind::any, left, *right);
    }
    --depth_;
    return left;
  }

  Result<std::size_t> parse_and() {
    auto first = parse_unary();
    if (!first) return first;
    std::size_t left = *first;
    while (peek().kind == Kind::and_) {
      take();
      auto right = parse_unary();
      if (!right) return right;
      left = combine(Node::Kind::all, left, *right);
    }
    return left;
  }

  std::size_t combine(Node::Kind kind, std::size_t a, std::size_t b) {
    Node n;
    n.kind = kind;
    n.a = a;
    n.b = b;
    return add(std::move(n));
  }

  Result<std::size_t> parse_unary() {
    if (peek().kind != Kind::bang) return parse_primary();
    if (++depth_ > kMaxDepth) return Error{"the condition is nested too deeply"};
    take();
    auto inner = parse_unary();
    if (!inner) return inner;
    --depth_;
    Node n;
    n.kind = Node::Kind::negate;
    n.a = *inner;
    return add(std::move(n));
  }

  Result<std::size_t> parse_primary() {
    const Token& t = peek();
    if (t.kind == Kind::lparen || t.kind == Kind::lbrackets) {
      const Kind close = t.kind == Kind::lparen ? Kind::rparen : Kind::rbrackets;
      take();
      auto inner = parse_or();
      if (!inner) return inner;
      if (peek().kind != close) {
        if (peek().kind == Kind::end) {
          return Error{fmt::format("missing '{}'", close == Kind::rparen ? ")" : "]]")};
        }
        return unexpected();
      }
      take();
      return inner;
    }
    if (t.kind != Kind::word && t.kind != Kind::quoted && t.kind != Kind::var) {
      return unexpected();
    }
    Condition::Operand left = operand(take());
    if (peek().kind != Kind::op) {
      if (!left.is_var && (left.word == "true" || left.word == "false")) {
        Node n;
        n.kind = Node::Kind::constant;
        n.value = left.word == "true";
        return add(std::move(n));
      }
      if (peek().kind == Kind::end) {
        return Error{fmt::format("'{}' needs a comparison (== != < <= > >=)",
                                 input::clip(tokens_[pos_ - 1].text))};
      }
      return unexpected();
    }
    const std::string op = take().text;
    const Token& r = peek();
    if (r.kind != Kind::word && r.kind != Kind::quoted && r.kind != Kind::var) {
      if (r.kind == Kind::end) return Error{fmt::format("'{}' needs a right-hand side", op)};
      return unexpected();
    }
    Condition::Operand right = operand(take());
    Node n;
    n.kind = Node::Kind::compare;
    n.op = op == "==" || op == "=" ? Condition::Op::eq
           : op == "!="            ? Condition::Op::ne
           : op == "<"             ? Condition::Op::lt
           : op == "<="            ? Condition::Op::le
           : op == ">"             ? Condition::Op::gt
                                   : Condition::Op::ge;
    if (auto st = check(left, n.op, right); !st) return st.error();
    if (auto st = check(right, n.op, left); !st) return st.error();
    n.left = std::move(left);
    n.right = std::move(right);
    return add(std::move(n));
  }

  static Condition::Operand operand(const Token& t) {
    Condition::Operand o;
    if (t.kind == Kind::var) {
      o.is_var = true;
      o.var = static_cast<Condition::Var>(*var_by_name(t.text));
    }
    o.word = t.text;
    return o;
  }

  /// The literal compared with a variable must be one it can hold: a defined
  /// target for TARGET, fred|idt for DELIVERY, true|false for NMI_SOURCE, and a
  /// number for < <= > >=.
  Status check(const Condition::Operand& var, Condition::Op op,
               const Condition::Operand& lit) const {
    if (lit.is_var) return {};
    const bool ordering = op != Condition::Op::eq && op != Condition::Op::ne;
    if (ordering) {
      if (!number(lit.word)) {
        return Error{
            fmt::format("'{}' is not a number (< <= > >= compare numbers)", input::clip(lit.word))};
      }
      return {};
    }
    if (!var.is_var) return {};
    switch (var.var) {
      case Condition::Var::target:
        if (!targets_.knows(lit.word)) {
          std::string foreign;
          for (auto v : kForeignVmms)
            foreign += (foreign.empty() ? "" : ", ") + std::string(v);
          return Error{fmt::format("unknown target '{}' (targets: {}; kvm-unit-tests: {})",
                                   input::clip(lit.word), targets_.names(), foreign)};
        }
        break;
      case Condition::Var::delivery:
        if (lit.word != "fred" && lit.word != "idt" && !lit.word.empty()) {
          return Error{fmt::format("DELIVERY is \"fred\", \"idt\" or \"\", not '{}'",
                                   input::clip(lit.word))};
        }
        break;
      case Condition::Var::nmi_source:
        if (lit.word != "true" && lit.word != "false" && !lit.word.empty()) {
          return Error{fmt::format("NMI_SOURCE is \"true\", \"false\" or \"\", not '{}'",
                                   input::clip(lit.word))};
        }
        break;
      default:
        break;
    }
    return {};
  }

  std::string_view text_;
  const TargetSet& targets_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  std::size_t depth_ = 0;
  Condition* out_ = nullptr;
};

}  // namespace detail

Result<Condition> Condition::parse(std::string_view text, const TargetSet& targets) {
  const auto b = text.find_first_not_of(" \t\r\n\f\v");
  if (b == std::string_view::npos) return Error{"empty condition"};
  const auto e = text.find_last_not_of(" \t\r\n\f\v");
  return detail::ConditionParser(text.substr(b, e - b + 1), targets).run();
}

std::string_view Condition::value_of(const Operand& o, const ConditionVars& vars) {
  if (!o.is_var) return o.word;
  switch (o.var) {
    case Var::target:
      return vars.target;
    case Var::delivery:
      return vars.delivery;
    case Var::nmi_source:
      return vars.nmi_source;
    case Var::smp:
      return vars.smp;
    case Var::arch:
      return vars.arch;
    case Var::accel:
      return vars.accel;
    case Var::machine:
      return vars.machine;
    case Var::file:
      return vars.file;
  }
  return {};
}

bool Condition::eval(const ConditionVars& vars) const {
  // Operands come before the node that uses them, so one pass in order evaluates
  // every node without recursion (a long && chain is as deep as it is long).
  std::vector<char> v(nodes_.size(), 0);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    switch (n.kind) {
      case Node::Kind::constant:
        v[i] = n.value;
        break;
      case Node::Kind::negate:
        v[i] = !v[n.a];
        break;
      case Node::Kind::all:
        v[i] = v[n.a] && v[n.b];
        break;
      case Node::Kind::any:
        v[i] = v[n.a] || v[n.b];
        break;
      case Node::Kind::compare:
        v[i] = compare(n, vars);
        break;
    }
  }
  return !v.empty() && v.back() != 0;
}

bool Condition::compare(const Node& n, const ConditionVars& vars) {
  const std::string_view l = value_of(n.left, vars), r = value_of(n.right, vars);
  if (n.op == Op::eq) return l == r;
  if (n.op == Op::ne) return l != r;
  // Ordering compares numbers; a side that is not one (SMP left out) makes it false.
  const auto a = detail::number(l), b = detail::number(r);
  if (!a || !b) return false;
  switch (n.op) {
    case Op::lt:
      return *a < *b;
    case Op::le:
      return *a <= *b;
    case Op::gt:
      return *a > *b;
    default:
      return *a >= *b;
  }
}

}  // namespace fredsim::suite
