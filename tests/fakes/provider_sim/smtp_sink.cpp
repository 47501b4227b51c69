#include "smtp_sink.h"

#include <fmt/format.h>
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

  static void Serve(ProviderSim& sim, std::shared_ptr<tcp::socket> socket) {
    boost::system::error_code ec;
    boost::asio::streambuf buf;
    auto say = [&](const std::string& line) {
      boost::asio::write(*socket, boost::asio::buffer(line + "\r\n"), ec);
    };
    auto read_line = [&]() -> std::optional<std::string> {
      boost::asio::read_until(*socket, buf, "\r\n", ec);
      if (ec) return std::nullopt;
      std::istream in(&buf);
      std::string line;
      std::getline(in, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    };
    say("220 tocsin-provider-sim ESMTP");
    std::string from;
    std::vector<std::string> to;
    while (auto line = read_line()) {
      std::string upper = *line;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (upper.rfind("EHLO", 0) == 0) {
        say("250-tocsin-provider-sim");
        say("250 8BITMIME");
      } else if (upper.rfind("HELO", 0) == 0 || upper.rfind("NOOP", 0) == 0) {
        say("250 OK");
      } else if (upper.rfind("MAIL FROM:", 0) == 0) {
        from = line->substr(10);
        to.clear();
        say("250 OK");
      } else if (upper.rfind("RCPT TO:", 0) == 0) {
        if (auto f = sim.TakeFault("/smtp"); f && f->status != 0) {
          Recorded r{0,
                     "SMTP",
                     "/smtp",
                     "",
                     {{"from", from}, {"to", line->substr(8)}},
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
      } else if (upper == "DATA") {
        say("354 End data with <CR><LF>.<CR><LF>");
        std::string data;
        while (auto l = read_line()) {
          if (*l == ".") break;
          data += (l->rfind("..", 0) == 0 ? l->substr(1) : *l) + "\r\n";
        }
        std::string subject;
        if (auto p = data.find("Subject: "); p != std::string::npos) {
          subject = data.substr(p + 9, data.find("\r\n", p) - p - 9);
        }
        std::string rcpts;
        for (const auto& t : to) rcpts += (rcpts.empty() ? "" : ",") + t;
        Recorded r{0,
                   "SMTP",
                   "/smtp",
                   "",
                   {{"from", from}, {"to", rcpts}},
                   data,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count(),
                   250,
                   fmt::format("smtp mail to {} \"{}\"", rcpts, subject.substr(0, 60))};
        sim.Record(std::move(r));
        say("250 OK queued");
      } else if (upper == "RSET") {
        from.clear();
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
