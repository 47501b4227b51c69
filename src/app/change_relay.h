#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/dispatch/silence_change.h"
#include "tocsin/ha/change_queue.h"
#include "tocsin/incident/forwarded_change.h"
#include "tocsin/incident/incident.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace tocsin {
class Executor;
}
namespace tocsin::incident {
class IncidentManager;
}
namespace tocsin::dispatch {
class Silences;
}

namespace tocsin::app {

struct ChangeRelayOptions {
  std::string instance;
  // How long a standby waits for the active to take a change before withdrawing it (and
  // answering that nothing was changed): ha.forward_timeout.
  Duration take_within = std::chrono::seconds(5);
  // How much longer it waits for the answer of a change the active took.
  Duration answer_within = std::chrono::seconds(10);
  Duration standby_poll = std::chrono::milliseconds(100);
  Duration active_poll = std::chrono::milliseconds(200);
  std::size_t batch = 32;
};

// Carries the changes people ask a standby for to the active instance through the database
// (issue 14, "every instance is useful"). On a standby, Forward() writes the change as a
// request (ha::ChangeQueue) and answers the caller with what the active answered: the incident
// as the active left it, or the active's error (an unknown incident, someone not on the
// roster). When no active takes it within take_within, the request is withdrawn and the caller
// hears that nothing was changed; a request taken but not answered in time is reported as
// exactly that, so that nobody is told "failed" about an ack that went through.
// On the active, StartApplying(epoch) claims requests every active_poll under its lease epoch
// and applies each through IncidentManager::ApplyForwarded; a request whose claimer lost the
// lease before answering is claimed again by the next active, and its delivery (the original
// Slack or webhook delivery, or "tocsin-ha"/<request id>) keeps it from being applied twice.
// Thread-safety: loop thread only; the queue is called on `executor` (one thread). Work on the
// executor touches only the queue and the scheduler, which outlive the relay: a pool joined
// after the relay is gone may still run a claim, and `this` is used again only on the loop,
// after checking that the relay is alive.
class ChangeRelay {
 public:
  template <typename T>
  using Done = std::function<void(Result<T>)>;

  ChangeRelay(Scheduler& scheduler, Executor& executor, ha::ChangeQueue& queue,
              incident::IncidentManager& incidents, ChangeRelayOptions options,
              prometheus::Registry* registry);
  ~ChangeRelay();
  ChangeRelay(const ChangeRelay&) = delete;
  ChangeRelay& operator=(const ChangeRelay&) = delete;

  // Silence changes too (set once the silences exist): forwarded by a standby, applied by the
  // active; a standby reads its silence list again (`reload`, off the loop, answering on it)
  // once the active has answered, so that the caller and the next GET see what it wrote.
  using Reload = std::function<void(std::function<void(Result<void>)>)>;
  void AttachSilences(dispatch::Silences& silences, Reload reload) {
    silences_ = &silences;
    reload_ = std::move(reload);
  }

  // On-call overrides too: `apply` adds one on the active (the request's body and actor) and
  // answers what it made, or why not; `reload` reads the overrides again on a standby, as for
  // silences. The answers are the owner's to encode: the relay carries them as they are.
  using OverrideApplier =
      std::function<void(const nlohmann::json& body, const std::string& actor, Done<std::string>)>;
  void AttachOverrides(OverrideApplier apply, Reload reload) {
    apply_override_ = std::move(apply);
    reload_overrides_ = std::move(reload);
  }

  void Forward(incident::ForwardedChange change, Done<incident::Incident> done);
  void ForwardOverride(nlohmann::json body, std::string actor, Done<std::string> done);
  // Answers the id of the silence the active made or changed.
  void ForwardSilence(dispatch::SilenceChange change, Done<std::string> done);
  void StartApplying(std::int64_t epoch);
  void StopApplying();

 private:
  struct Waiting;
  void Submit(std::shared_ptr<Waiting> w, std::string body);
  void Poll(std::shared_ptr<Waiting> w);
  // `made`: what the active answered it made (a silence's id), on success.
  void Finish(const std::shared_ptr<Waiting>& w, Result<std::string> made,
              std::string_view outcome);
  void ApplyTick();
  void ApplyClaimed(std::int64_t epoch, std::vector<ha::ChangeRequest> requests);
  void ApplySilence(std::int64_t epoch, const ha::ChangeRequest& req, const nlohmann::json& body);
  void ApplyOverride(std::int64_t epoch, const ha::ChangeRequest& req, const nlohmann::json& body);
  // Reads again with `reload` (when set) before answering `done` with `made`.
  static void AnswerAfter(const Reload& reload, std::string_view what, Result<std::string> made,
                          Done<std::string> done);
  void SendAnswer(std::int64_t epoch, std::int64_t id, Result<std::string> made);
  void WriteAnswer(std::int64_t epoch, std::int64_t id, ha::ChangeAnswer answer, int attempt);
  void Count(std::string_view outcome);

  Scheduler& scheduler_;
  Executor& executor_;
  ha::ChangeQueue& queue_;
  incident::IncidentManager& incidents_;
  dispatch::Silences* silences_ = nullptr;
  Reload reload_;
  OverrideApplier apply_override_;
  Reload reload_overrides_;
  ChangeRelayOptions options_;
  prometheus::Family<prometheus::Counter>* forwarded_ = nullptr;
  std::optional<std::int64_t> epoch_;  // applying under this epoch (active)
  std::optional<TimerId> tick_timer_;
  bool claiming_ = false;
  std::size_t answers_in_flight_ = 0;
  std::uint64_t ticks_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tocsin::app
