#pragma once

#include <vector>

#include "tocsin/oncall/override_store.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::store {

// On-call overrides added through the API, in tocsin's SQLite database (table
// `oncall_overrides`, module "oncall"). The kind is stored by name. With a StoreThread (the
// daemon) Add joins the store thread's next group commit and completes on the loop once
// durable; without one (tests, tools) it commits before Add returns.
// Thread-safety: Add and LoadAll from the loop thread.
class SqliteOverrideStore final : public oncall::OverrideStore {
 public:
  static std::vector<Migration> Migrations();

  explicit SqliteOverrideStore(Database& db, StoreThread* writer = nullptr)
      : db_(db), writer_(writer) {}
  void Add(oncall::RecordedOverride entry, Done done) override;
  Result<std::vector<oncall::RecordedOverride>> LoadAll() override;

 private:
  Database& db_;
  StoreThread* writer_;
};

}  // namespace tocsin::store
