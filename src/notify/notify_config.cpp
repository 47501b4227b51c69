#include "tocsin/notify/notify_config.h"

#include <fmt/format.h>

#include "notify/provider_registry.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::notify {

using incident::Channel;

RateLimit NotifyConfig::LimitFor(Channel c) const {
  if (auto it = rate_limits.find(c); it != rate_limits.end()) return it->second;
  const auto* provider = FindProvider(c);
  return provider ? provider->default_rate_limit : RateLimit{};
}

std::optional<Channel> NotifyConfig::FailoverFor(Channel c) const {
  for (const auto& [from, to] : failover) {
    if (from == c) return to;
  }
  return std::nullopt;
}

namespace {

bool ReadLimit(config::MapReader& parent, std::string_view key, RateLimit& out) {
  if (!parent.Has(key)) return false;
  config::MapReader r(parent.file(), parent.Node(key), parent.diags(),
                      fmt::format("notify.rate_limits.{}", key));
  if (!r.ok()) {
    parent.Error(key, "must be a mapping with `events` and `per`");
    return false;
  }
  r.Int("events", out.events, false, 0, 1000000);
  if (r.DurationValue("per", out.per) && out.per <= Duration(0)) {
    r.Error("per", "must be longer than 0s");
  }
  return true;
}

}  // namespace

NotifyConfig ParseNotifyConfig(const config::Config& main, config::Diagnostics& diags) {
  NotifyConfig c;
  auto it = main.sections.find("notify");
  if (it == main.sections.end()) return c;
  config::MapReader r(main.file, it->second, diags, "notify");
  if (!r.ok()) {
    diags.Error(config::PositionOf(main.file, it->second), "notify: must be a mapping");
    return c;
  }
  if (r.String("templates_dir", c.templates_dir)) {
    c.templates_dir = config::ResolvePath(main.base_dir, c.templates_dir);
  }
  r.DurationValue("initial_backoff", c.initial_backoff);
  r.DurationValue("max_backoff", c.max_backoff);
  if (c.initial_backoff <= Duration(0) || c.max_backoff < c.initial_backoff) {
    r.Error("max_backoff", "initial_backoff must be > 0 and max_backoff >= initial_backoff");
  }
  if (r.Double("jitter", c.jitter) && (c.jitter < 0 || c.jitter > 1)) {
    r.Error("jitter", "must be between 0 and 1 (a fraction of each backoff)");
  }
  r.DurationValue("give_up_after", c.give_up_after);
  r.DurationValue("failover_after", c.failover_after);
  r.DurationValue("probe_interval", c.probe_interval);
  r.String("last_resort_role", c.last_resort_role);
  r.DurationValue("heartbeat_interval", c.heartbeat_interval);
  if (r.DurationValue("retention", c.retention) && c.retention < std::chrono::hours(1)) {
    r.Error("retention", "must be at least 1h (acks and resolves look up where a page went)");
  }
  long long in_flight = static_cast<long long>(c.max_in_flight);
  if (r.Int("max_in_flight", in_flight, false, 1, 256)) {
    c.max_in_flight = static_cast<std::size_t>(in_flight);
  }
  if (r.Has("failover")) {
    // A list of "from: to" pairs; an empty list disables fail-over.
    c.failover.clear();
    ForEachMap(r, "failover", "notify.failover[]", [&](config::MapReader& p, std::size_t) {
      std::string from, to;
      std::vector<std::string> allowed;
      for (const auto& provider : Providers()) {
        if (provider.can_fail_over) allowed.emplace_back(provider.channel.name());
      }
      bool ok = p.Enum("from", from, allowed, true);
      ok = p.Enum("to", to, allowed, true) && ok;
      if (!ok) return;
      if (from == to) {
        p.Error("to", "a provider cannot fail over to itself");
        return;
      }
      c.failover.emplace_back(Channel::Named(from), Channel::Named(to));
    });
  }
  if (r.Has("status_page")) {
    config::MapReader s(main.file, r.Node("status_page"), diags, "notify.status_page");
    StatusPageConfig page;
    if (!s.ok()) {
      s.Error("url", "notify.status_page: must be a mapping with `url` (and `token_file`)");
    } else if (s.Url("url", page.url, true)) {
      s.Secret("token", page.token, main.base_dir);
      c.status_page = page;
    }
  }
  if (r.Has("rate_limits")) {
    config::MapReader limits(main.file, r.Node("rate_limits"), diags, "notify.rate_limits");
    for (const auto& provider : Providers()) {
      RateLimit limit = provider.default_rate_limit;
      if (ReadLimit(limits, provider.channel.name(), limit))
        c.rate_limits[provider.channel] = limit;
    }
  }
  return c;
}

void ValidateProviders(const config::Config& main, config::Diagnostics& diags) {
  // Re-read the file only to point at the right line; the values are main's.
  config::Diagnostics ignored;
  auto doc = config::LoadYamlFile(main.file, ignored);
  auto where_in = [&](const std::string& provider) -> WhereFn {
    return [&main, &doc, provider](const std::string& key) {
      // Only through mappings: yaml-cpp throws on a key asked of a scalar, and the file may
      // hold one where the loader kept an earlier value (a repeated key, say).
      auto child = [](const YAML::Node& node, const std::string& name) {
        return node && node.IsMap() ? node[name] : YAML::Node(YAML::NodeType::Undefined);
      };
      if (!doc) return config::Position{main.file, 0, 0};
      YAML::Node section = child(child(doc->root, "providers"), provider);
      if (YAML::Node value = child(section, key)) return config::PositionOf(main.file, value);
      if (section) return config::PositionOf(main.file, section);
      return config::Position{main.file, 0, 0};
    };
  };
  for (const auto& provider : Providers()) {
    if (provider.configured(main.providers)) {
      provider.check(main.providers, where_in(std::string(provider.channel.name())), diags);
    }
  }
}

}  // namespace tocsin::notify
