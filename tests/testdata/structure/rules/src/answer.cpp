// A file that writes JSON text the way that throws on bytes that are not UTF-8.
#include <nlohmann/json.hpp>

std::string Text(const nlohmann::json& j) { return j.dump(); }  // j.dump() in a comment is fine
std::string Text(const nlohmann::json* j) { return j->dump(2); }
