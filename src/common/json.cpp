#include "tocsin/common/json.h"

#include <string>

namespace tocsin {

namespace {
// Thrown from the parser callback to stop at the first level too deep, instead of parsing the
// rest of a hostile document only to discard it.
struct TooDeep {
  int depth;
};
}  // namespace

Result<nlohmann::json> ParseJson(std::string_view text, int max_depth) {
  using nlohmann::json;
  json::parser_callback_t limit = [max_depth](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw TooDeep{depth};
    }
    return true;
  };
  try {
    return json::parse(text, limit);
  } catch (const TooDeep&) {
    return Fail(Error::Invalid("JSON nested deeper than " + std::to_string(max_depth) +
                               " levels of objects and arrays"));
  } catch (const json::parse_error& e) {
    return Fail(Error::Invalid("invalid JSON at byte " + std::to_string(e.byte)));
  } catch (const json::out_of_range&) {
    // nlohmann reports 1e400 as "[json.exception.out_of_range.406] number overflow ...".
    return Fail(
        Error::Invalid("invalid JSON: a number is out of range (the largest is about "
                       "1.8e308)"));
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("invalid JSON: ") + e.what()));
  }
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tocsin
