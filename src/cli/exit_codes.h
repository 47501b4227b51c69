#pragma once

namespace tocsin::cli {

// The exit codes of every tocsin command (docs/cli.md has the table). 0, 1 and 2 mean what they
// mean for promtool and amtool, so scripts written for those read tocsin the same way.
inline constexpr int kExitOk = 0;
// The command ran and found something wrong: config errors, failed rule tests, roster
// findings, a tampered timeline, an incident or silence the daemon refused or does not have.
inline constexpr int kExitFailure = 1;
// The command could not run as asked: bad flags or arguments, a file that cannot be read, no
// configuration file found, a source (Prometheus) that cannot be queried.
inline constexpr int kExitUsage = 2;
// The tocsin daemon could not be reached (connection refused, timeout, DNS).
inline constexpr int kExitUnreachable = 3;

}  // namespace tocsin::cli
