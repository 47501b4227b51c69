#pragma once

#include <string>
#include <cstddef>
#include <string_view>

namespace tocsin {

// The one place tocsin hashes, signs and base64-encodes, on OpenSSL: webhook signatures
// (Slack, PagerDuty, tocsin's own X-Tocsin-Signature), API token hashes, delivery keys,
// timeline digests and MIME encoded-words all go through these. Thread-safe.

// Lowercase hex of HMAC-SHA256(key, message).
std::string HmacSha256Hex(std::string_view key, std::string_view message);
// Base64 of HMAC-SHA1(key, message): Twilio's X-Twilio-Signature.
std::string HmacSha1Base64(std::string_view key, std::string_view message);
// Lowercase hex of SHA-256(data).
std::string Sha256Hex(std::string_view data);
// Compares without leaking where the first difference is (CRYPTO_memcmp). Different lengths
// compare unequal (the length of a signature is not a secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Base64 (RFC 4648 section 4, with padding, no line breaks).
std::string Base64Encode(std::string_view data);
// Lowercase hex of `bytes` bytes from OpenSSL's CSPRNG (session ids, CSRF keys).
std::string RandomHex(std::size_t bytes);

}  // namespace tocsin
