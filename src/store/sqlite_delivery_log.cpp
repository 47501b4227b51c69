#include "tocsin/store/sqlite_delivery_log.h"

#include <algorithm>

namespace tocsin::store {

Result<notify::DeliveryLogPage> SqliteDeliveryLog::List(const notify::DeliveryLogFilter& f) {
  // Each filter is either off ('' / 0 binds match all) or exact, so one statement serves all.
  auto st = db_.Prepare(
      "SELECT id, channel, original_channel, kind, person_id, incident_id, state, attempts, "
      "last_status, last_detail, created_at, done_at FROM notify_outbox "
      "WHERE (?1 = '' OR channel = ?1) AND (?2 = '' OR person_id = ?2) "
      "AND (?3 = '' OR incident_id = ?3) AND (?4 = '' OR state = ?4) "
      "AND (?5 = 0 OR created_at >= ?5) AND (?6 = 0 OR id < ?6) "
      "ORDER BY id DESC LIMIT ?7");
  if (!st) return Fail(st.error());
  const int limit = std::clamp(f.limit, 1, 1000);
  st->Bind(1, f.provider)
      .Bind(2, f.person)
      .Bind(3, f.incident)
      .Bind(4, f.state)
      .Bind(5, f.since ? ToUnixMillis(*f.since) : std::int64_t{0})
      .Bind(6, f.before_id)
      .Bind(7, std::int64_t{limit + 1});  // one more says whether an older page exists
  notify::DeliveryLogPage page;
  while (true) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    notify::DeliveryLogEntry e;
    e.id = st->Int(0);
    e.provider = st->Text(1);
    e.queued_for = st->Text(2);
    e.kind = st->Text(3);
    e.person = st->Text(4);
    e.incident = st->Text(5);
    e.state = st->Text(6);
    e.attempts = static_cast<int>(st->Int(7));
    if (!st->IsNull(8)) e.status = static_cast<int>(st->Int(8));
    e.answer = st->Text(9);
    e.queued_at = FromUnixMillis(st->Int(10));
    if (!st->IsNull(11)) e.done_at = FromUnixMillis(st->Int(11));
    page.entries.push_back(std::move(e));
  }
  if (static_cast<int>(page.entries.size()) > limit) {
    page.entries.pop_back();
    page.next_before_id = page.entries.back().id;
  }
  return page;
}

}  // namespace tocsin::store
