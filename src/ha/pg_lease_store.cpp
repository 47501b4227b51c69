#include "tocsin/ha/pg_lease_store.h"

#include <chrono>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "ha/pg_session.h"

namespace tocsin::ha {

const std::vector<std::string>& HaSchemaStatements() {
  // Version 1 of the ha module's schema. Every statement is idempotent, so two instances
  // starting together both run it (under an advisory lock, so their DDL never interleaves).
  static const std::vector<std::string> kStatements = {
      R"(CREATE TABLE IF NOT EXISTS tocsin_ha_lease (
           id integer PRIMARY KEY CHECK (id = 1),
           holder text NOT NULL DEFAULT '',
           epoch bigint NOT NULL DEFAULT 0,
           expires_at timestamptz NOT NULL DEFAULT 'epoch'))",
      "INSERT INTO tocsin_ha_lease (id) VALUES (1) ON CONFLICT (id) DO NOTHING",
      // Which process of `holder` holds it: a restarted process, or a second one given the same
      // instance name, is not the holder until the lease expires.
      "ALTER TABLE tocsin_ha_lease ADD COLUMN IF NOT EXISTS holder_token text NOT NULL DEFAULT ''",
      R"(CREATE TABLE IF NOT EXISTS tocsin_ha_instances (
           name text PRIMARY KEY,
           role text NOT NULL,
           address text NOT NULL DEFAULT '',
           last_heartbeat timestamptz NOT NULL))",
      // Changes people asked a standby for, on their way to the active (ChangeQueue).
      R"(CREATE TABLE IF NOT EXISTS tocsin_ha_requests (
           id bigserial PRIMARY KEY,
           from_instance text NOT NULL,
           body text NOT NULL,
           state text NOT NULL DEFAULT 'pending'
             CHECK (state IN ('pending', 'claimed', 'answered', 'withdrawn')),
           claimed_by text NOT NULL DEFAULT '',
           claim_epoch bigint NOT NULL DEFAULT 0,
           answer_ok boolean,
           answer_kind integer,
           answer text,
           created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
           answered_at timestamptz))",
      "CREATE INDEX IF NOT EXISTS tocsin_ha_requests_open ON tocsin_ha_requests (id) "
      "WHERE state IN ('pending', 'claimed')",
      // Raises SQLSTATE 40P01-like "fenced" errors as their own code (TF001 is free: class TF
      // is not used by PostgreSQL), so the store can tell them from other failures.
      R"(CREATE OR REPLACE FUNCTION tocsin_check_epoch(expected bigint) RETURNS void
         LANGUAGE plpgsql AS $$
         DECLARE
           cur_epoch bigint;
           cur_expires timestamptz;
           cur_holder text;
         BEGIN
           SELECT epoch, expires_at, holder INTO cur_epoch, cur_expires, cur_holder
             FROM tocsin_ha_lease WHERE id = 1 FOR SHARE;
           IF cur_epoch IS NULL OR cur_epoch <> expected THEN
             RAISE EXCEPTION 'fenced: this instance wrote with epoch % but the lease is at epoch % (held by %)',
               expected, cur_epoch, cur_holder USING ERRCODE = 'TF001';
           END IF;
           IF cur_expires <= clock_timestamp() THEN
             RAISE EXCEPTION 'fenced: the lease of epoch % expired at %', expected, cur_expires
               USING ERRCODE = 'TF001';
           END IF;
         END $$)",
  };
  return kStatements;
}

namespace {

constexpr char kMillis[] = "(extract(epoch from {}) * 1000)::bigint";

std::string Ms(const char* column) { return fmt::format(kMillis, column); }

class PgLeaseStore final : public LeaseStore {
 public:
  PgLeaseStore(std::string url, Duration timeout)
      : session_(std::move(url), timeout, "tocsin-ha"), token_(ProcessToken()) {}

  Result<void> Migrate() override {
    return Run<void>([&](pqxx::connection& c) {
      pqxx::work w(c);
      w.exec("SELECT pg_advisory_xact_lock(7410500014)");  // "tocsin ha", any constant
      for (const auto& sql : HaSchemaStatements()) w.exec(sql);
      w.commit();
    });
  }

  Result<LeaseView> AcquireOrRenew(const std::string& instance, Role role,
                                   const std::string& address, Duration lease) override {
    return Run<LeaseView>([&](pqxx::connection& c) {
      pqxx::work w(c);
      w.exec_params(
          "INSERT INTO tocsin_ha_instances (name, role, address, last_heartbeat) "
          "VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT (name) DO UPDATE SET "
          "role = EXCLUDED.role, address = EXCLUDED.address, last_heartbeat = "
          "EXCLUDED.last_heartbeat",
          instance, std::string(RoleName(role)), address);
      // FOR UPDATE: waits for the write transactions that hold the row FOR SHARE
      // (tocsin_check_epoch), so a takeover never overlaps a write of the old epoch.
      auto row = w.exec1(fmt::format(
          "SELECT holder, epoch, expires_at > clock_timestamp(), {}, {}, holder_token FROM "
          "tocsin_ha_lease WHERE id = 1 FOR UPDATE",
          Ms("expires_at"), Ms("clock_timestamp()")));
      LeaseView v;
      v.holder = row[0].as<std::string>();
      v.epoch = row[1].as<std::int64_t>();
      bool live = row[2].as<bool>();
      v.expires_at = FromUnixMillis(row[3].as<std::int64_t>());
      v.db_now = FromUnixMillis(row[4].as<std::int64_t>());
      // Held by this very process: the name and the token. The same name with another token is
      // a previous run of this instance (its lease runs out like anyone's) or a second process
      // wrongly given this name: renewing it under the same epoch would make two actives that
      // the fence cannot tell apart.
      const bool mine = v.holder == instance && row[5].as<std::string>() == token_;
      if (live && !mine) {
        w.commit();
        return v;
      }
      // Renewed in time: same epoch. Expired (whoever held it, this instance included): a new
      // epoch, so that anything written under the old one is refused from now on.
      auto upd = w.exec_params1(
          fmt::format("UPDATE tocsin_ha_lease SET holder = $1, holder_token = $4, epoch = epoch + "
                      "$2, expires_at = clock_timestamp() + $3 * interval '1 millisecond' "
                      "WHERE id = 1 RETURNING epoch, {}, {}",
                      Ms("expires_at"), Ms("clock_timestamp()")),
          instance, live ? 0 : 1, static_cast<std::int64_t>(lease.count()), token_);
      w.commit();
      v.holder = instance;
      v.epoch = upd[0].as<std::int64_t>();
      v.expires_at = FromUnixMillis(upd[1].as<std::int64_t>());
      v.db_now = FromUnixMillis(upd[2].as<std::int64_t>());
      v.held = true;
      return v;
    });
  }

  Result<void> Release(const std::string& instance, std::int64_t epoch) override {
    return Run<void>([&](pqxx::connection& c) {
      pqxx::work w(c);
      w.exec_params(
          "UPDATE tocsin_ha_lease SET expires_at = clock_timestamp() WHERE id = 1 AND holder = $1 "
          "AND epoch = $2 AND holder_token = $3 AND expires_at > clock_timestamp()",
          instance, epoch, token_);
      w.commit();
    });
  }

  Result<std::vector<PeerInfo>> Peers() override {
    return Run<std::vector<PeerInfo>>([&](pqxx::connection& c) {
      pqxx::read_transaction r(c);
      std::vector<PeerInfo> out;
      for (const auto& row : r.exec(
               fmt::format("SELECT name, role, address, {} FROM tocsin_ha_instances ORDER BY name",
                           Ms("last_heartbeat")))) {
        PeerInfo p;
        p.name = row[0].as<std::string>();
        p.role = row[1].as<std::string>();
        p.address = row[2].as<std::string>();
        p.last_heartbeat = FromUnixMillis(row[3].as<std::int64_t>());
        out.push_back(std::move(p));
      }
      return out;
    });
  }

 private:
  template <typename T, typename Fn>
  Result<T> Run(Fn&& fn) {
    return session_.Run<T>(std::forward<Fn>(fn));
  }

  // 16 random hex digits, new for every process (every store object): who holds the lease is
  // this process, not merely a process of this name.
  static std::string ProcessToken() {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}", rd(), rd());
  }

  detail::PgSession session_;
  std::string token_;
};

}  // namespace

std::unique_ptr<LeaseStore> MakePgLeaseStore(std::string url, Duration timeout) {
  return std::make_unique<PgLeaseStore>(std::move(url), timeout);
}

}  // namespace tocsin::ha
