#pragma once

#include <string>

namespace tocsin::testing {

// A blocking TCP socket connected to 127.0.0.1:port, or -1. The caller closes it.
int ConnectLoopback(unsigned short port);

// Sends raw bytes to 127.0.0.1:port and returns everything the server writes until it closes
// the connection or `read_timeout_ms` passes without data. For malformed-request tests, where a
// real HTTP client would refuse to send what we need. Returns "" if it cannot connect.
std::string RawExchange(unsigned short port, const std::string& bytes, int read_timeout_ms = 2000);

// Status code of the first response in `raw` ("HTTP/1.1 404 Not Found" -> 404), or 0.
int StatusOf(const std::string& raw);
// Body of the first response (after the blank line).
std::string BodyOf(const std::string& raw);

}  // namespace tocsin::testing
