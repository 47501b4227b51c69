std::string DumpJson(const nlohmann::json& j) { return j.dump(); }
