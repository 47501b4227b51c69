#include "notify/providers/email/email_notifier.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "notify/utf8.h"
#include "tocsin/common/labels.h"

namespace tocsin::notify {

namespace {

std::string Base64(std::string_view in) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// RFC 2047 encoded word for a non-ASCII header; no CR/LF can reach a header either way.
std::string HeaderText(std::string_view s) {
  std::string clean;
  for (char c : s) clean += (c == '\r' || c == '\n') ? ' ' : c;
  bool ascii = true;
  for (char c : clean) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return clean;
  return "=?UTF-8?B?" + Base64(clean) + "?=";
}

std::string Crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n')
      out += "\r\n";
    else if (c != '\r')
      out += c;
  }
  return out;
}

}  // namespace

EmailNotifier::EmailNotifier(config::EmailConfig config,
                             std::shared_ptr<const PageRenderer> renderer,
                             std::shared_ptr<SmtpTransport> transport)
    : config_(std::move(config)),
      renderer_(std::move(renderer)),
      transport_(std::move(transport)) {}

SmtpMessage EmailNotifier::BuildMessage(const OutboxItem& item) const {
  const auto& r = item.request;
  PageText t = renderer_->Render(r);
  std::string subject = TruncateUtf8(t.email_subject, 200);
  std::string message_id =
      fmt::format("<{:016x}.{:016x}@tocsin>", Fnv1a64(r.idempotency_key), Fnv1a64(item.target));
  auto date = std::chrono::time_point_cast<std::chrono::seconds>(r.at);
  std::string data;
  data += "From: " + config_.from + "\r\n";
  data += "To: " + item.target + "\r\n";
  data += "Subject: " + HeaderText(subject) + "\r\n";
  data += fmt::format("Date: {:%a, %d %b %Y %H:%M:%S} +0000\r\n", date);
  data += "Message-ID: " + message_id + "\r\n";
  data += "X-Tocsin-Incident: " + HeaderText(r.incident_id) + "\r\n";
  data += "MIME-Version: 1.0\r\n";
  data += "Content-Type: text/plain; charset=UTF-8\r\n";
  data += "Content-Transfer-Encoding: 8bit\r\n\r\n";
  std::string body = Crlf(t.details + "\n");
  // SMTP ends the data at a line with a lone dot: double leading dots (RFC 5321 4.5.2).
  std::string stuffed;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find("\r\n", start);
    std::string line =
        body.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!line.empty() && line[0] == '.') line = "." + line;
    stuffed += line + "\r\n";
    if (end == std::string::npos) break;
    start = end + 2;
  }
  data += stuffed;
  return {config_.from, {item.target}, data};
}

DeliveryResult EmailNotifier::Deliver(const OutboxItem& item) {
  if (item.target.empty()) return DeliveryResult::Permanent(0, "email: no recipient address");
  auto sent = transport_->Send(BuildMessage(item));
  if (sent) return DeliveryResult::Ok(250, "email: accepted by the SMTP server");
  if (sent.error().kind() == Error::Kind::kPermanent) {
    return DeliveryResult::Permanent(0, sent.error().message());
  }
  return DeliveryResult::Retry(0, sent.error().message());
}

std::string EmailNotifier::RateKey(const OutboxItem&) const { return "smtp"; }

}  // namespace tocsin::notify
