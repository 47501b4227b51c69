#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tocsin/dispatch/silence.h"

namespace tocsin::app {

// The silence store as a high-availability standby may use it: it reads, but a write is
// refused (with `why`) while the instance is a standby, since only the active instance's
// silences mute what pages. A silence set on a standby would otherwise be on disk and mute
// nothing. Loop thread.
class StandbySilenceStore final : public dispatch::SilenceStore {
 public:
  explicit StandbySilenceStore(dispatch::SilenceStore& inner) : inner_(inner) {}
  // nullopt: writes go through (active, or one instance).
  void SetReadOnly(std::optional<std::string> why) { read_only_ = std::move(why); }
  void Write(std::vector<dispatch::Silence> silences, Done done) override {
    if (read_only_) return done(Fail(Error::Transient(*read_only_)));
    inner_.Write(std::move(silences), std::move(done));
  }
  Result<std::vector<dispatch::Silence>> LoadAll() override { return inner_.LoadAll(); }

 private:
  dispatch::SilenceStore& inner_;
  std::optional<std::string> read_only_;
};

}  // namespace tocsin::app
