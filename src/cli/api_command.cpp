#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "tocsin/common/crypto.h"
#include "tocsin/http/signatures.h"

namespace tocsin::cli {

void AddApiCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand("api", "HTTP API helpers");
  cmd->require_subcommand(1);
  auto* hash = cmd->add_subcommand(
      "hash-token",
      "Print the SHA-256 to put in api.tokens[].sha256 for a token read from standard input "
      "(not from the command line, where other users could see it)");
  hash->callback([&exit_code] {
    std::string token;
    std::getline(std::cin, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.size() < 16) {
      fmt::print(stderr,
                 "tocsin: a token should have at least 16 characters (e.g. `openssl rand "
                 "-hex 32`)\n");
      exit_code = kExitUsage;
      return;
    }
    fmt::print("{}\n", Sha256Hex(token));
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
