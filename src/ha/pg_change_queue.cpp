#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "ha/pg_session.h"
#include "tocsin/ha/change_queue.h"

namespace tocsin::ha {

namespace {

std::optional<RequestState> StateFromName(const std::string& s) {
  if (s == "pending") return RequestState::kPending;
  if (s == "claimed") return RequestState::kClaimed;
  if (s == "answered") return RequestState::kAnswered;
  if (s == "withdrawn") return RequestState::kWithdrawn;
  return std::nullopt;
}

// tocsin_ha_requests.answer_kind holds a fixed code per kind, never the enum's position: a
// reordered Error::Kind must not change what an answer already stored means. The codes are the
// positions written until this table, so rows already stored read the same. An unknown code (a
// newer release's kind, read by an older one during an upgrade) reads as transient: the standby
// says to try again rather than inventing an outcome.
constexpr std::pair<Error::Kind, int> kAnswerKindCodes[] = {
    {Error::Kind::kInvalid, 0},     {Error::Kind::kNotFound, 1}, {Error::Kind::kTransient, 2},
    {Error::Kind::kPermanent, 3},   {Error::Kind::kIo, 4},       {Error::Kind::kConflict, 5},
    {Error::Kind::kUnauthorized, 6}};

int AnswerKindCode(Error::Kind kind) {
  for (const auto& [k, code] : kAnswerKindCodes) {
    if (k == kind) return code;
  }
  return 2;  // not reached: every kind has its code
}

Error::Kind AnswerKindFromCode(int code) {
  for (const auto& [k, c] : kAnswerKindCodes) {
    if (c == code) return k;
  }
  return Error::Kind::kTransient;
}

class PgChangeQueue final : public ChangeQueue {
 public:
  PgChangeQueue(std::string url, Duration timeout)
      : session_(std::move(url), timeout, "tocsin-ha-requests") {}

  Result<std::int64_t> Submit(const std::string& from_instance, const std::string& body) override {
    return session_.Run<std::int64_t>([&](pqxx::connection& c) {
      pqxx::work w(c);
      auto row = w.exec_params1(
          "INSERT INTO tocsin_ha_requests (from_instance, body) VALUES ($1, $2) RETURNING id",
          from_instance, body);
      w.commit();
      return row[0].as<std::int64_t>();
    });
  }

  Result<std::vector<ChangeRequest>> Claim(const std::string& instance, std::int64_t epoch,
                                           std::size_t limit) override {
    return session_.Run<std::vector<ChangeRequest>>([&](pqxx::connection& c) {
      pqxx::work w(c);
      // The lease check and the claim in one statement: an instance that lost the lease
      // claims nothing, and a claim under an older epoch is taken over.
      auto rows = w.exec_params(
          "WITH lease AS (SELECT 1 FROM tocsin_ha_lease WHERE id = 1 AND holder = $1 AND "
          "epoch = $2 AND expires_at > clock_timestamp()), "
          "picked AS (SELECT id, state FROM tocsin_ha_requests WHERE (state = 'pending' OR "
          "(state = 'claimed' AND claim_epoch < $2)) AND EXISTS (SELECT 1 FROM lease) "
          "ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) "
          "UPDATE tocsin_ha_requests r SET state = 'claimed', claimed_by = $1, claim_epoch = $2 "
          "FROM picked WHERE r.id = picked.id "
          "RETURNING r.id, r.from_instance, r.body, picked.state = 'claimed'",
          instance, epoch, static_cast<std::int64_t>(limit));
      w.commit();
      std::vector<ChangeRequest> out;
      for (const auto& row : rows) {
        out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(),
                       row[2].as<std::string>(), row[3].as<bool>()});
      }
      std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
      return out;
    });
  }

  Result<void> Answer(std::int64_t id, const std::string& instance, std::int64_t epoch,
                      const ChangeAnswer& answer) override {
    auto updated = session_.Run<std::size_t>([&](pqxx::connection& c) {
      pqxx::work w(c);
      auto r = w.exec_params(
          "UPDATE tocsin_ha_requests SET state = 'answered', answer_ok = $4, answer_kind = $5, "
          "answer = $6, answered_at = clock_timestamp() WHERE id = $1 AND state = 'claimed' "
          "AND claimed_by = $2 AND claim_epoch = $3",
          id, instance, epoch, answer.ok, AnswerKindCode(answer.kind), answer.message);
      w.commit();
      return static_cast<std::size_t>(r.affected_rows());
    });
    if (!updated) return Fail(updated.error());
    if (*updated == 0) {
      return Fail(Error::Conflict(fmt::format(
          "request {} is no longer claimed by {} at epoch {}: another instance took it over", id,
          instance, epoch)));
    }
    return {};
  }

  Result<RequestStatus> Status(std::int64_t id) override {
    auto row = session_.Run<std::optional<pqxx::row>>([&](pqxx::connection& c) {
      pqxx::read_transaction r(c);
      auto rows = r.exec_params(
          "SELECT state, claimed_by, answer_ok, answer_kind, answer FROM tocsin_ha_requests "
          "WHERE id = $1",
          id);
      if (rows.empty()) return std::optional<pqxx::row>();
      return std::optional<pqxx::row>(rows[0]);
    });
    if (!row) return Fail(row.error());
    if (!*row) return Fail(Error::NotFound(fmt::format("no forwarded request {}", id)));
    const auto& r = **row;
    auto state = StateFromName(r[0].as<std::string>());
    if (!state) {
      return Fail(Error::Permanent(
          fmt::format("forwarded request {} has an unknown state \"{}\"", id, r[0].c_str())));
    }
    RequestStatus s;
    s.state = *state;
    s.claimed_by = r[1].as<std::string>();
    if (s.state == RequestState::kAnswered) {
      ChangeAnswer a;
      a.ok = r[2].as<bool>(false);
      a.kind = AnswerKindFromCode(r[3].as<int>(AnswerKindCode(Error::Kind::kTransient)));
      a.message = r[4].as<std::string>("");
      s.answer = a;
    }
    return s;
  }

  Result<bool> Withdraw(std::int64_t id) override {
    return session_.Run<bool>([&](pqxx::connection& c) {
      pqxx::work w(c);
      auto r = w.exec_params(
          "UPDATE tocsin_ha_requests SET state = 'withdrawn', answered_at = clock_timestamp() "
          "WHERE id = $1 AND state = 'pending'",
          id);
      w.commit();
      return r.affected_rows() == 1;
    });
  }

  Result<std::size_t> Prune(Duration age) override {
    return session_.Run<std::size_t>([&](pqxx::connection& c) {
      pqxx::work w(c);
      auto r = w.exec_params(
          "DELETE FROM tocsin_ha_requests WHERE state IN ('answered', 'withdrawn') AND "
          "answered_at < clock_timestamp() - $1 * interval '1 millisecond'",
          static_cast<std::int64_t>(
              std::chrono::duration_cast<std::chrono::milliseconds>(age).count()));
      w.commit();
      return static_cast<std::size_t>(r.affected_rows());
    });
  }

 private:
  detail::PgSession session_;
};

}  // namespace

std::unique_ptr<ChangeQueue> MakePgChangeQueue(std::string url, Duration timeout) {
  return std::make_unique<PgChangeQueue>(std::move(url), timeout);
}

}  // namespace tocsin::ha
