#include "tocsin/common/json_fields.h"

#include <fmt/format.h>

#include <vector>

namespace tocsin {

const nlohmann::json& JsonMember(const nlohmann::json& j, std::string_view key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

Result<std::string> JsonStringField(const nlohmann::json& j, std::string_view key, bool required,
                                    std::string_view what) {
  const nlohmann::json& v = JsonMember(j, key);
  if (v.is_null()) {
    if (required) return Fail(Error::Invalid(fmt::format("{} needs `{}`", what, key)));
    return std::string();
  }
  if (!v.is_string()) {
    return Fail(Error::Invalid(fmt::format("`{}` of {} must be a string", key, what)));
  }
  return v.get<std::string>();
}

std::string JsonString(const nlohmann::json& j, std::string_view key) {
  const nlohmann::json& v = JsonMember(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

nlohmann::json LabelsToJson(const Labels& labels) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& l : labels) out[l.name] = l.value;
  return out;
}

Labels LabelsFromJson(const nlohmann::json& j) {
  std::vector<Label> items;
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.value().is_string()) items.push_back({it.key(), it.value().get<std::string>()});
    }
  }
  return Labels(std::move(items));
}

}  // namespace tocsin
