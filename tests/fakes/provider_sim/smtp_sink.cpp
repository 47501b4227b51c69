#include "smtp_sink.h"

#include <fmt/format.h>
#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace tocsin::sim {

using boost::asio::ip::tcp;

struct SmtpSink::Impl {
  ProviderSim& sim;
  boost::asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<bool> stopping{false};
  explicit Impl(ProviderSim& s) : sim(s) {}

  // Why a message is refused (the reply), or empty to accept it: a real server refuses a bare
  // CR or LF (RFC 5321 2.3.8; accepting them is what made SMTP smuggling possible) and many
  // refuse a message without the From and Date headers RFC 5322 3.6 requires.
  static std::string Refusal(const std::string& content, bool bare, bool too_long) {
    if (too_long) return "500 Line too long (see RFC5321 4.5.3.1.6)";
    if (bare) return "550 5.6.11 bare CR or LF in the message (RFC 5321 2.3.8)";
    std::string header = "\r\n" + content.substr(0, content.find("\r\n\r\n") + 2);
    for (auto& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* name : {"from", "date"}) {
      if (header.find(fmt::format("\r\n{}:", name)) == std::string::npos) {
        return fmt::format("550 5.6.0 message without a {} header (RFC 5322 3.6)", name);
      }
    }
    return {};
  }

  static bool IsPath(const std::string& arg) {
    auto close = arg.find('>');
    return !arg.empty() && arg[0] == '<' && close != std::string::npos;
  }

  static void Serve(ProviderSim& sim, std::shared_ptr<tcp::socket> socket) {
    boost::system::error_code ec;
    boost::asio::streambuf buf;
    auto say = [&](const std::string& line) {
      boost::asio::write(*socket, boost::asio::buffer(line + "\r\n"), ec);
    };
    // One line up to CRLF, without it. A lone CR or LF inside stays in the line (as in any
    // server that reads to CRLF), where the checks see it.
    auto read_line = [&]() -> std::optional<std::string> {
      std::size_t n = boost::asio::read_until(*socket, buf, "\r\n", ec);
      if (ec) return std::nullopt;
      std::string line(boost::asio::buffers_begin(buf.data()),
                       boost::asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
      buf.consume(n);
      line.resize(line.size() - 2);
      return line;
    };
    auto bare = [](const std::string& line) {
      return line.find_first_of("\r\n") != std::string::npos;
    };
    say("220 tocsin-provider-sim ESMTP");
    bool greeted = false;
    std::optional<std::string> from;
    std::vector<std::string> to;
    while (auto line = read_line()) {
      std::string upper = *line;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (bare(*line)) {
        say("500 Error: bare CR or LF in a command (RFC 5321 2.3.8)");
      } else if (line->size() > 510) {
        say("500 Error: line too long");
      } else if (upper.rfind("EHLO ", 0) == 0) {
        greeted = true;
        from.reset();
        to.clear();
        say("250-tocsin-provider-sim");
        say("250 8BITMIME");
      } else if (upper.rfind("HELO ", 0) == 0) {
        greeted = true;
        from.reset();
        to.clear();
        say("250 tocsin-provider-sim");
      } else if (upper == "NOOP") {
        say("250 OK");
      } else if (upper.rfind("MAIL FROM:", 0) == 0) {
        if (!greeted) {
          say("503 Error: send HELO first");
        } else if (from) {
          say("503 Error: nested MAIL command");
        } else if (!IsPath(line->substr(10))) {
          say("501 Syntax: MAIL FROM: <address>");
        } else {
          from = line->substr(10);
          to.clear();
          say("250 OK");
        }
      } else if (upper.rfind("RCPT TO:", 0) == 0) {
        if (!from) {
          say("503 Error: need MAIL command");
          continue;
        }
        if (!IsPath(line->substr(8))) {
          say("501 Syntax: RCPT TO: <address>");
          continue;
        }
        if (auto f = sim.TakeFault("/smtp"); f && f->status != 0) {
          Recorded r{0,
                     "SMTP",
                     "/smtp",
                     "",
                     {{"from", *from}, {"to", line->substr(8)}},
                     "",
                     0,
                     f->status,
                     fmt::format("FAULT smtp RCPT {}", f->status)};
          sim.Record(std::move(r));
          say(fmt::format("{} injected fault", f->status));
          continue;
        }
        to.push_back(line->substr(8));
        say("250 OK");
      } else if (upper.rfind("DATA", 0) == 0) {
        if (upper != "DATA") {
          say("501 Syntax: DATA");
          continue;
        }
        if (!from || to.empty()) {
          say("503 Error: need RCPT command");
          continue;
        }
        say("354 End data with <CR><LF>.<CR><LF>");
        std::string data;
        bool bare_seen = false;
        bool too_long = false;
        bool ended = false;
        while (auto l = read_line()) {
          if (*l == ".") {
            ended = true;
            break;
          }
          bare_seen = bare_seen || bare(*l);
          too_long = too_long || l->size() > 998;
          // RFC 5321 4.5.2: the receiver drops a leading dot, whatever follows it.
          data += (!l->empty() && (*l)[0] == '.' ? l->substr(1) : *l) + "\r\n";
        }
        if (!ended) break;
        std::string rcpts;
        for (const auto& t : to) rcpts += (rcpts.empty() ? "" : ",") + t;
        std::string sender = *from;
        from.reset();
        to.clear();
        std::string refusal = Refusal(data, bare_seen, too_long);
        std::string subject;
        if (auto p = data.find("Subject: "); p != std::string::npos) {
          subject = data.substr(p + 9, data.find("\r\n", p) - p - 9);
        }
        Recorded r{0,
                   "SMTP",
                   "/smtp",
                   "",
                   {{"from", sender}, {"to", rcpts}},
                   data,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count(),
                   refusal.empty() ? 250 : std::stoi(refusal.substr(0, 3)),
                   refusal.empty()
                       ? fmt::format("smtp mail to {} \"{}\"", rcpts, subject.substr(0, 60))
                       : "REFUSED smtp " + refusal};
        sim.Record(std::move(r));
        say(refusal.empty() ? "250 OK queued" : refusal);
      } else if (upper == "RSET") {
        from.reset();
        to.clear();
        say("250 OK");
      } else if (upper == "QUIT") {
        say("221 Bye");
        break;
      } else {
        say("502 Command not implemented");
      }
    }
    socket->close(ec);
  }
};

SmtpSink::SmtpSink(ProviderSim& sim, const std::string& host, unsigned short port)
    : impl_(std::make_unique<Impl>(sim)) {
  tcp::endpoint ep(boost::asio::ip::make_address(host), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->thread = std::thread([impl = impl_.get()] {
    while (!impl->stopping) {
      auto socket = std::make_shared<tcp::socket>(impl->io);
      boost::system::error_code ec;
      impl->acceptor.accept(*socket, ec);
      if (ec || impl->stopping) break;
      std::thread([impl, socket] { Impl::Serve(impl->sim, socket); }).detach();
    }
  });
}

SmtpSink::~SmtpSink() {
  impl_->stopping = true;
  // Wake the blocking accept with a connection of our own.
  boost::system::error_code ec;
  tcp::socket s(impl_->io);
  s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace tocsin::sim
