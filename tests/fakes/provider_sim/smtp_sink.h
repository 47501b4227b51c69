#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "provider_sim.h"

namespace tocsin::sim {

// A minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH, so a
// client with credentials must refuse it unless told a loopback server may be spoken to in
// clear) that records each accepted message as a request with method "SMTP" and path "/smtp",
// its body un-dot-stuffed as a real server stores it. As strict as a real server: commands out
// of order, bare CR or LF, over-long lines and messages without From/Date are refused (and
// recorded with that status). A fault on path "/smtp" with a status such as 451 or 550 becomes
// that reply to RCPT TO. Blocking sockets on its own threads: it never touches the HTTP
// server's loop. tests/fakes/smtp/smtp_server.py is the real server (TLS, AUTH) for e-mail's
// own tests.
class SmtpSink {
 public:
  SmtpSink(ProviderSim& sim, const std::string& host, unsigned short port);
  ~SmtpSink();
  unsigned short port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  unsigned short port_ = 0;
};

}  // namespace tocsin::sim
