#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "provider_sim.h"

namespace tocsin::sim {

// A minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH) that
// records each accepted message as a request with method "SMTP" and path "/smtp". A fault on
// path "/smtp" with a status such as 451 or 550 becomes that reply to RCPT TO. Blocking sockets
// on its own threads: it never touches the HTTP server's loop.
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
