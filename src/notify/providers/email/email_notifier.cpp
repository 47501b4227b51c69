#include "notify/providers/email/email_notifier.h"

#include <algorithm>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "tocsin/common/crypto.h"
#include "tocsin/common/labels.h"
#include "tocsin/common/text.h"

namespace tocsin::notify {

namespace {

// RFC 2047 encoded words for a non-ASCII header value. A header's text is visible characters
// and blanks (RFC 5322 3.2.5): CR, LF, NUL and the other control characters an alert's label
// may carry become blanks, so none reaches a header either way.
// An encoded word is at most 75 characters (RFC 2047 section 2), so a longer value becomes
// several words on folded lines, each cut between UTF-8 sequences (section 5: every word must
// decode to whole characters); readers join adjacent encoded words without the space between.
std::string HeaderText(std::string_view s) {
  std::string clean;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    clean += (u < 0x20 && c != '\t') || u == 0x7F ? ' ' : c;
  }
  bool ascii = true;
  for (char c : clean) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return clean;
  // "=?UTF-8?B?" + 60 base64 characters + "?=" is 72: 45 octets per word.
  constexpr std::size_t kOctetsPerWord = 45;
  std::string out;
  std::string_view rest = clean;
  while (!rest.empty()) {
    std::size_t n = Utf8Boundary(rest, kOctetsPerWord);
    if (n == 0) n = std::min(kOctetsPerWord, rest.size());  // not UTF-8: cut anywhere
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(rest.substr(0, n)) + "?=";
    rest.remove_prefix(n);
  }
  return out;
}

// CRLF line ends, no bare CR, and no NUL: RFC 5322 (section 4) forbids generating it, and mail
// gateways refuse a message that has one ("554 Message contains NUL characters"), so a label's
// NUL would cost the page. Other control characters are text a body may hold (3.5).
std::string Crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n')
      out += "\r\n";
    else if (c == '\0')
      out += ' ';
    else if (c != '\r')
      out += c;
  }
  return out;
}

// RFC 5321 4.5.3.1.6: a line of a message is at most 998 octets before its CRLF; servers
// refuse longer ones ("500 Line too long").
bool HasOverlongLine(std::string_view crlf_text) {
  std::size_t start = 0;
  while (start < crlf_text.size()) {
    std::size_t end = crlf_text.find("\r\n", start);
    if (end == std::string_view::npos) end = crlf_text.size();
    if (end - start > 998) return true;
    start = end + 2;
  }
  return false;
}

// RFC 2045 6.7 quoted-printable of CRLF text: lines of at most 76 characters (soft breaks
// "=" CRLF), "=", control and non-ASCII octets as "=XX", whitespace before a line end encoded.
std::string QuotedPrintable(std::string_view crlf_text) {
  std::string out;
  std::size_t start = 0;
  while (start < crlf_text.size()) {
    std::size_t end = crlf_text.find("\r\n", start);
    if (end == std::string_view::npos) end = crlf_text.size();
    std::string_view line = crlf_text.substr(start, end - start);
    std::size_t column = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      auto c = static_cast<unsigned char>(line[i]);
      bool literal =
          (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && i + 1 < line.size());
      std::string piece =
          literal ? std::string(1, static_cast<char>(c)) : fmt::format("={:02X}", c);
      if (column + piece.size() > 75) {
        out += "=\r\n";
        column = 0;
      }
      out += piece;
      column += piece.size();
    }
    out += "\r\n";
    start = end + 2;
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
  // Not dot-stuffed here: the transport does that on the wire (doing it twice turned a line
  // ".x" into "..x" in the reader's mailbox).
  std::string body = Crlf(t.details + "\n");
  // Readable 8bit text unless a line is too long for SMTP (a long annotation, a stack trace):
  // then quoted-printable, which every mail client decodes, rather than a refused page.
  if (HasOverlongLine(body)) {
    data += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    data += QuotedPrintable(body);
  } else {
    data += "Content-Transfer-Encoding: 8bit\r\n\r\n";
    data += body;
  }
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
