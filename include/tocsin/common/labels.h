#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tocsin {

// Identity of a label set: FNV-1a 64 over the sorted names and values, each followed by the
// byte 0xff — the same function Prometheus and Alertmanager use, so a fingerprint printed by
// tocsin matches the one Alertmanager shows for the same labels. Stable across runs, builds
// and machines.
class Fingerprint {
 public:
  constexpr Fingerprint() = default;
  constexpr explicit Fingerprint(std::uint64_t v) : value_(v) {}
  constexpr std::uint64_t value() const { return value_; }
  // 16 lowercase hex digits, zero-padded.
  std::string ToString() const;
  static std::optional<Fingerprint> Parse(std::string_view hex);
  friend constexpr auto operator<=>(Fingerprint, Fingerprint) = default;

 private:
  std::uint64_t value_ = 0;
};

struct Label {
  std::string name;
  std::string value;
  friend auto operator<=>(const Label&, const Label&) = default;
};

// An immutable-by-convention set of labels, kept sorted by name with unique names. Labels
// with an empty value are dropped, as in Prometheus (an empty value means "no such label").
class Labels {
 public:
  Labels() = default;
  Labels(std::initializer_list<std::pair<std::string, std::string>> init);
  explicit Labels(std::vector<Label> labels);

  // Returns a copy with `name` set (or removed when value is empty).
  Labels With(std::string_view name, std::string_view value) const;
  Labels Without(std::string_view name) const;
  // Only the named labels (used for group_by and inhibition `equal`).
  Labels Only(const std::vector<std::string>& names) const;
  // Labels of `other` override ours.
  Labels Merge(const Labels& other) const;

  std::optional<std::string_view> Get(std::string_view name) const;
  // The value or "" when absent (Prometheus semantics for matchers).
  std::string_view GetOr(std::string_view name, std::string_view fallback = {}) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }

  Fingerprint fingerprint() const;
  // One label's step of fingerprint()'s hash (name, 0xff, value, 0xff), for code that hashes a
  // subset of a label set in place: fingerprint() is every label's step from the FNV offset.
  static std::uint64_t HashStep(std::uint64_t h, const Label& label);
  const std::vector<Label>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

  // {alertname="X", psp="A"} — Prometheus notation, values escaped.
  std::string ToString() const;

  friend bool operator==(const Labels&, const Labels&) = default;
  friend auto operator<=>(const Labels& a, const Labels& b) { return a.items_ <=> b.items_; }

 private:
  void Normalize();
  std::vector<Label> items_;
};

// Whether `name` is a Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);

// Hash of an arbitrary byte string with the same FNV-1a 64 function.
std::uint64_t Fnv1a64(std::string_view data, std::uint64_t seed = 14695981039346656037ULL);

}  // namespace tocsin

template <>
struct std::hash<tocsin::Fingerprint> {
  std::size_t operator()(tocsin::Fingerprint f) const noexcept { return f.value(); }
};
template <>
struct std::hash<tocsin::Labels> {
  std::size_t operator()(const tocsin::Labels& l) const noexcept { return l.fingerprint().value(); }
};
