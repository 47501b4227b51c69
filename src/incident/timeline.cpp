#include "tocsin/incident/timeline.h"

#include <fmt/format.h>

#include "tocsin/common/crypto.h"

namespace tocsin::incident {

namespace {

// Length-prefixed fields: no separator inside a field can make two events hash alike.
void Field(std::string& out, std::string_view v) {
  out += std::to_string(v.size());
  out += ':';
  out += v;
}

}  // namespace

std::string HashEvent(const TimelineEvent& e) {
  std::string canon;
  Field(canon, e.prev_hash);
  Field(canon, e.incident_id);
  Field(canon, std::to_string(e.seq));
  Field(canon, std::to_string(ToUnixMillis(e.at)));
  Field(canon, e.kind);
  Field(canon, e.actor);
  Field(canon, e.text);
  Field(canon, e.data);
  return Sha256Hex(canon);
}

void ChainEvent(Incident& incident, TimelineEvent& event) {
  event.incident_id = incident.id;
  event.seq = ++incident.timeline_seq;
  event.prev_hash = incident.timeline_head.empty() ? kGenesisHash : incident.timeline_head;
  event.hash = HashEvent(event);
  incident.timeline_head = event.hash;
}

VerifyResult VerifyTimeline(const Incident& incident, const std::vector<TimelineEvent>& events) {
  VerifyResult r;
  std::string prev = kGenesisHash;
  std::int64_t expect_seq = 1;
  auto fail = [&](std::int64_t seq, std::string msg) {
    r.ok = false;
    r.first_bad_seq = seq;
    r.message = std::move(msg);
    return r;
  };
  for (const auto& e : events) {
    ++r.events;
    if (e.incident_id != incident.id) {
      return fail(e.seq,
                  fmt::format("event {} belongs to {}, not {}", e.seq, e.incident_id, incident.id));
    }
    if (e.seq != expect_seq) {
      return fail(expect_seq, fmt::format("event {} is missing (found {} next): rows were "
                                          "removed or renumbered",
                                          expect_seq, e.seq));
    }
    if (e.prev_hash != prev) {
      return fail(e.seq, fmt::format("event {} does not follow event {}: the chain was broken",
                                     e.seq, e.seq - 1));
    }
    if (HashEvent(e) != e.hash) {
      return fail(e.seq, fmt::format("event {} ({}) was modified after it was written: its "
                                     "content no longer matches its hash",
                                     e.seq, e.kind));
    }
    prev = e.hash;
    ++expect_seq;
  }
  if (static_cast<std::int64_t>(events.size()) != incident.timeline_seq ||
      (incident.timeline_seq > 0 && prev != incident.timeline_head)) {
    return fail(static_cast<std::int64_t>(events.size()) + 1,
                fmt::format("the incident records {} events but the timeline has {}: the newest "
                            "events were removed or the head was changed",
                            incident.timeline_seq, events.size()));
  }
  r.message = fmt::format("{} events, chain intact", r.events);
  return r;
}

}  // namespace tocsin::incident
