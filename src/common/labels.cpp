#include "tocsin/common/labels.h"

#include <algorithm>
#include <cstdio>

namespace tocsin {

namespace {
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;
constexpr char kSeparator = '\xff';

std::uint64_t FnvAdd(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::uint64_t FnvAddByte(std::uint64_t h, unsigned char c) {
  h ^= c;
  h *= kFnvPrime;
  return h;
}

void AppendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}
}  // namespace

std::uint64_t Fnv1a64(std::string_view data, std::uint64_t seed) { return FnvAdd(seed, data); }

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string Fingerprint::ToString() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value_));
  return std::string(buf, 16);
}

std::optional<Fingerprint> Fingerprint::Parse(std::string_view hex) {
  if (hex.empty() || hex.size() > 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return Fingerprint(v);
}

Labels::Labels(std::initializer_list<std::pair<std::string, std::string>> init) {
  items_.reserve(init.size());
  for (const auto& [n, v] : init) items_.push_back({n, v});
  Normalize();
}

Labels::Labels(std::vector<Label> labels) : items_(std::move(labels)) { Normalize(); }

void Labels::Normalize() {
  std::erase_if(items_, [](const Label& l) { return l.value.empty(); });
  // Stable: with duplicate names the last one given wins.
  std::stable_sort(items_.begin(), items_.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  std::vector<Label> out;
  out.reserve(items_.size());
  for (auto& l : items_) {
    if (!out.empty() && out.back().name == l.name) {
      out.back() = std::move(l);
    } else {
      out.push_back(std::move(l));
    }
  }
  items_ = std::move(out);
}

Labels Labels::With(std::string_view name, std::string_view value) const {
  Labels copy = Without(name);
  if (value.empty()) return copy;
  auto it = std::lower_bound(copy.items_.begin(), copy.items_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  copy.items_.insert(it, Label{std::string(name), std::string(value)});
  return copy;
}

Labels Labels::Without(std::string_view name) const {
  Labels copy = *this;
  std::erase_if(copy.items_, [&](const Label& l) { return l.name == name; });
  return copy;
}

Labels Labels::Only(const std::vector<std::string>& names) const {
  Labels out;
  for (const auto& l : items_) {
    if (std::find(names.begin(), names.end(), l.name) != names.end()) out.items_.push_back(l);
  }
  return out;
}

Labels Labels::Merge(const Labels& other) const {
  std::vector<Label> all = items_;
  all.insert(all.end(), other.items_.begin(), other.items_.end());
  return Labels(std::move(all));
}

std::optional<std::string_view> Labels::Get(std::string_view name) const {
  auto it = std::lower_bound(items_.begin(), items_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it == items_.end() || it->name != name) return std::nullopt;
  return std::string_view(it->value);
}

std::string_view Labels::GetOr(std::string_view name, std::string_view fallback) const {
  auto v = Get(name);
  return v ? *v : fallback;
}

std::uint64_t Labels::HashStep(std::uint64_t h, const Label& label) {
  h = FnvAdd(h, label.name);
  h = FnvAddByte(h, static_cast<unsigned char>(kSeparator));
  h = FnvAdd(h, label.value);
  return FnvAddByte(h, static_cast<unsigned char>(kSeparator));
}

Fingerprint Labels::fingerprint() const {
  std::uint64_t h = 14695981039346656037ULL;
  for (const auto& l : items_) h = HashStep(h, l);
  return Fingerprint(h);
}

std::string Labels::ToString() const {
  std::string out = "{";
  bool first = true;
  for (const auto& l : items_) {
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += "=\"";
    AppendEscaped(out, l.value);
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace tocsin
