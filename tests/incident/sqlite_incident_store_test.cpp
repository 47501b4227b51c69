// The incident manager on the real SQLite store: durability across reopen, append-only
// timeline, tampering detected by verify, backup and restore.
#include <gmock/gmock.h>

#include <cstdlib>

#include "incident/incident_test_support.h"
#include "support/temp_dir.h"
#include "tocsin/store/sqlite_incident_store.h"

namespace tocsin::incident {
namespace {

class SqliteIncidentTest : public IncidentTest {
 protected:
  testing::TempDir dir_;
  std::string path_ = dir_.path() + "/tocsin.db";
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteIncidentStore> sql_;

  void OpenDb() {
    auto db = store::Database::Open(path_);
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    sql_ = std::make_unique<store::SqliteIncidentStore>(*db_);
    ASSERT_TRUE(sql_->Migrate());
  }

  void BuildOnSqlite() {
    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", kTestRoster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    schedule_ = std::make_shared<const oncall::Schedule>(*roster);
    OpenDb();
    manager_ =
        std::make_unique<IncidentManager>(scheduler_, *sql_, pager_, schedule_, policies_, config_);
    ASSERT_TRUE(manager_->Start());
  }

  int Sqlite(const std::string& sql) {
    std::string cmd = "sqlite3 '" + path_ + "' \"" + sql + "\" 2>/dev/null";
    return std::system(cmd.c_str());
  }
};

TEST_F(SqliteIncidentTest, IncidentsTimelineAndNumbersSurviveReopeningTheDatabase) {
  BuildOnSqlite();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  manager_->OnGroupFlush(Group("game-gateway", Severity::kCritical, true, "g2"), At(minutes(0)));
  AdvanceTo(minutes(6));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(6))));
  auto before = manager_->Get("INC-1").value();
  manager_.reset();
  sql_.reset();
  db_.reset();

  testing::RecordingPager after;
  OpenDb();
  IncidentManager restarted(scheduler_, *sql_, after, schedule_, policies_, config_);
  ASSERT_TRUE(restarted.Start());
  EXPECT_EQ(restarted.open_count(), 2u);
  EXPECT_EQ(restarted.Get("INC-1").value(), before);
  EXPECT_TRUE(restarted.Verify("INC-1")->ok);
  EXPECT_TRUE(restarted.Verify("INC-2")->ok);
  // Numbers continue, never repeat.
  restarted.OnGroupFlush(Group("db-wallet", Severity::kCritical, true, "g3"), At(minutes(6)));
  EXPECT_TRUE(restarted.Get("INC-3"));
  // INC-2 was not acknowledged: its Duty Manager step is still due at 10m, not earlier.
  scheduler_.AdvanceTo(At(minutes(10)) - seconds(1));
  EXPECT_FALSE(after.Paged("dm"));
  scheduler_.AdvanceTo(At(minutes(10)));
  EXPECT_TRUE(after.Paged("dm"));
  auto keys = sql_->PageKeys("INC-2").value();
  EXPECT_EQ(std::count(keys.begin(), keys.end(), "INC-2/step-2/trigger"), 1);
}

TEST_F(SqliteIncidentTest, TimelineIsAppendOnlyAndAnEditWithSqlite3IsDetected) {
  BuildOnSqlite();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(2))));
  ASSERT_TRUE(
      manager_->AddNote("INC-1", "l1a", "switched 50 % of deposits to PSP-B", At(minutes(3))));
  auto ok = manager_->Verify("INC-1").value();
  ASSERT_TRUE(ok.ok) << ok.message;
  // The store refuses edits...
  EXPECT_NE(Sqlite("UPDATE incident_timeline SET actor = 'l1b' WHERE kind = 'acknowledged'"), 0);
  EXPECT_TRUE(manager_->Verify("INC-1")->ok);
  // ... and someone with file access who removes the guard is still caught by the hash chain.
  ASSERT_EQ(Sqlite("DROP TRIGGER incident_timeline_append_only_update; UPDATE incident_timeline "
                   "SET text = 'switched nothing' WHERE kind = 'note'"),
            0);
  auto bad = manager_->Verify("INC-1").value();
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.message.find("modified"), std::string::npos) << bad.message;
}

TEST_F(SqliteIncidentTest, DeletingTheNewestEventsIsDetected) {
  BuildOnSqlite();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(2))));
  ASSERT_EQ(Sqlite("DROP TRIGGER incident_timeline_append_only_delete; DELETE FROM "
                   "incident_timeline WHERE kind = 'acknowledged'"),
            0);
  EXPECT_FALSE(manager_->Verify("INC-1")->ok);
}

TEST_F(SqliteIncidentTest, BackupIsAConsistentCopyThatRestores) {
  BuildOnSqlite();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(5));
  std::string copy = dir_.path() + "/backup.db";
  ASSERT_TRUE(db_->Backup(copy));
  // Restore = stop tocsin, put the copy in place of tocsin.db (and remove -wal/-shm), start.
  auto restored_db = store::Database::Open(copy);
  ASSERT_TRUE(restored_db);
  store::SqliteIncidentStore restored(**restored_db);
  ASSERT_TRUE(restored.Migrate());
  auto inc = restored.Get("INC-1").value();
  ASSERT_TRUE(inc.has_value());
  EXPECT_EQ(*inc, manager_->Get("INC-1").value());
  auto events = restored.Timeline("INC-1").value();
  EXPECT_TRUE(VerifyTimeline(*inc, events).ok);
  EXPECT_EQ(restored.NextIncidentNumber().value(), 2);
}

}  // namespace
}  // namespace tocsin::incident

namespace tocsin::incident {
namespace {

// Regression: a page intent re-sent after a restart lost its origin, so an ack done in
// PagerDuty was mirrored back to PagerDuty (found by tests/faults).
TEST_F(SqliteIncidentTest, PageIntentKeepsItsOriginAcrossReopen) {
  BuildOnSqlite();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  IncidentChange change;
  change.incident = manager_->Get("INC-1").value();
  PageRequest mirror;
  mirror.incident_id = "INC-1";
  mirror.idempotency_key = "INC-1/acknowledge";
  mirror.action = PageAction::kAcknowledge;
  mirror.actor = "pagerduty:L1 Day";
  mirror.origin = std::string(kOriginPagerDuty);
  change.pages.push_back(mirror);
  ASSERT_TRUE(sql_->Commit(change));
  manager_.reset();
  sql_.reset();
  db_.reset();
  OpenDb();
  auto pending = sql_->PendingPages();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].request.origin, kOriginPagerDuty);
}

}  // namespace
}  // namespace tocsin::incident
