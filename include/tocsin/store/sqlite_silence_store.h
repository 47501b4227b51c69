#pragma once

#include <vector>

#include "tocsin/dispatch/silence.h"
#include "tocsin/store/database.h"

namespace tocsin::dispatch {

// Silences in tocsin's SQLite database (table `silences`, module "dispatch"). Matchers are
// stored in their text form and parsed back on load. Thread-safety: as Database.
class SqliteSilenceStore final : public SilenceStore {
 public:
  // The schema this store needs; apply with Database::Migrate before use.
  static std::vector<store::Migration> Migrations();

  explicit SqliteSilenceStore(store::Database& db) : db_(db) {}
  Result<void> Put(const Silence& silence) override;
  Result<std::vector<Silence>> LoadAll() override;

 private:
  store::Database& db_;
};

}  // namespace tocsin::dispatch
