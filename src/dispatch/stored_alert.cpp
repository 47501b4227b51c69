#include "tocsin/dispatch/stored_alert.h"

namespace tocsin::dispatch {

namespace {

// Varint length prefix: one byte for strings under 128 bytes, which is nearly all of them.
void Put(std::string& out, std::string_view s) {
  std::size_t n = s.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out.append(s);
}

bool HasRuleFields(const Alert& a) {
  return !a.rule.empty() || a.value || a.threshold || a.burn_rate || a.budget_consumed ||
         !a.links.empty();
}

}  // namespace

StoredAlert::StoredAlert(const Alert& a)
    : n_labels_(static_cast<std::uint32_t>(a.labels.size())),
      n_annotations_(static_cast<std::uint32_t>(a.annotations.size())),
      starts_at_(a.starts_at),
      ends_at_(a.ends_at),
      updated_at_(a.updated_at),
      state_(a.state),
      kind_(a.kind),
      severity_(a.severity) {
  std::size_t size = a.generator_url.size() + 1;
  for (const auto& l : a.labels) size += l.name.size() + l.value.size() + 2;
  for (const auto& [k, v] : a.annotations) size += k.size() + v.size() + 2;
  blob_.reserve(size);
  for (const auto& l : a.labels) {
    Put(blob_, l.name);
    Put(blob_, l.value);
  }
  for (const auto& [k, v] : a.annotations) {
    Put(blob_, k);
    Put(blob_, v);
  }
  Put(blob_, a.generator_url);
  if (HasRuleFields(a)) {
    auto rich = std::make_shared<Alert>();
    rich->rule = a.rule;
    rich->value = a.value;
    rich->threshold = a.threshold;
    rich->burn_rate = a.burn_rate;
    rich->budget_consumed = a.budget_consumed;
    rich->links = a.links;
    rich_ = std::move(rich);
  }
}

std::string_view StoredAlert::Read(std::size_t& pos) const {
  std::size_t n = 0;
  int shift = 0;
  while (true) {
    auto b = static_cast<unsigned char>(blob_[pos++]);
    n |= static_cast<std::size_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  std::string_view s(blob_.data() + pos, n);
  pos += n;
  return s;
}

std::size_t StoredAlert::SkipPairs(std::size_t pairs) const {
  std::size_t pos = 0;
  for (std::size_t i = 0; i < pairs * 2; ++i) Read(pos);
  return pos;
}

std::string_view StoredAlert::generator_url() const {
  std::size_t pos = SkipPairs(n_labels_ + n_annotations_);
  return Read(pos);
}

Labels StoredAlert::labels() const {
  std::vector<Label> items;
  items.reserve(n_labels_);
  ForEachLabel([&](std::string_view k, std::string_view v) {
    items.push_back({std::string(k), std::string(v)});
  });
  return Labels(std::move(items));
}

Alert StoredAlert::Expand() const {
  Alert a = rich_ ? *rich_ : Alert{};
  a.labels = labels();
  ForEachAnnotation([&](std::string_view k, std::string_view v) { a.annotations.emplace(k, v); });
  a.generator_url = std::string(generator_url());
  a.starts_at = starts_at_;
  a.ends_at = ends_at_;
  a.updated_at = updated_at_;
  a.state = state_;
  a.kind = kind_;
  a.severity = severity_;
  return a;
}

}  // namespace tocsin::dispatch
