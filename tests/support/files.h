#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace tocsin::testing {

// The whole file, or "" when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The lines of a fenced block in a Markdown file after the line `first_line` (a shell prompt
// in docs/), up to the closing fence: what the docs say a command prints.
inline std::string FencedBlockAfter(const std::string& path, const std::string& first_line) {
  std::ifstream doc(path);
  std::string line;
  std::string shown;
  bool in_block = false;
  while (std::getline(doc, line)) {
    if (line == first_line) {
      in_block = true;
    } else if (in_block && line == "```") {
      break;
    } else if (in_block) {
      shown += line + "\n";
    }
  }
  return shown;
}

// Without trailing newlines and spaces (what `$(cat file)` gives in a shell).
inline std::string TrimEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace tocsin::testing
