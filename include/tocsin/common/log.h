#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace tocsin::log {

enum class Format { kText, kJson };

// Receives each finished line (without the trailing newline).
using Writer = std::function<void(std::string_view line)>;

// Configures the process-wide logger (the one process-wide global tocsin has): text or JSON lines
// on stderr by default (journald picks both up), at the given level. Every secret registered with
// AddSecret is replaced by "<redacted>" in every line, whatever the call site formatted into
// it. Thread-safe. Use spdlog::info(...) etc. to log.
// Under systemd (stderr is the stream named by $JOURNAL_STREAM) each line starts with its
// syslog priority, "<3>" for errors ... "<7>" for debug, which journald turns into the entry's
// priority, and text lines carry no timestamp of their own.
void Setup(Format format, spdlog::level::level_enum level, Writer writer = {});
// The same with the journald prefixes chosen by the caller (tests).
void Setup(Format format, spdlog::level::level_enum level, bool journald, Writer writer);

// Whether stderr is the journal stream systemd connected ($JOURNAL_STREAM).
bool StderrIsJournal();

// Registers a secret value (token, key, password) to redact from all log output. Values
// shorter than 4 characters are ignored (they would redact ordinary words).
void AddSecret(std::string_view secret);
void ClearSecrets();

// Replaces every registered secret in `text`.
std::string Redact(std::string_view text);

bool ParseLevel(std::string_view level, spdlog::level::level_enum* out);

}  // namespace tocsin::log
