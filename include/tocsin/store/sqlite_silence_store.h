#pragma once

#include <vector>

#include "tocsin/dispatch/silence.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::dispatch {

// Silences in tocsin's SQLite database (table `silences`, module "dispatch"). Matchers are
// stored in their text form and parsed back on load. With a StoreThread (the daemon) every
// write joins the store thread's next group commit and completes on the loop once durable;
// without one (tests, tools) it commits on the caller's thread before Write returns.
// Thread-safety: Write and LoadAll from the loop thread.
class SqliteSilenceStore final : public SilenceStore {
 public:
  // The schema this store needs; apply with Database::Migrate before use.
  static std::vector<store::Migration> Migrations();

  explicit SqliteSilenceStore(store::Database& db, store::StoreThread* writer = nullptr)
      : db_(db), writer_(writer) {}
  void Write(std::vector<Silence> silences, Done done) override;
  Result<std::vector<Silence>> LoadAll() override;

 private:
  static Result<void> PutIn(store::Database& db, const Silence& silence);

  store::Database& db_;
  store::StoreThread* writer_;
};

}  // namespace tocsin::dispatch
