#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tocsin/http/router.h"

namespace boost::asio {
class io_context;
}

namespace tocsin::sim {

class ProviderSim;

// Twilio's REST API as strict as Twilio (Messages.json and Calls.json of API 2010-04-01):
// HTTP basic auth with the account SID and auth token (401, code 20003), the account in the
// path, required parameters (To, From, and Body for a message, Twiml or Url for a call), E.164
// numbers (21211 for To, 21212 for From), From one of the account's numbers (21606), a body of
// at most 1600 characters (21617), TwiML of at most 4000 (32018), and 429 (20429) past
// `max_per_second` requests a second. Errors are Twilio's JSON {code, message, more_info,
// status}. Records every message and call per recipient number
// (GET /_sim/twilio/phones), and plays the phone's side: POST /_sim/twilio/reply
// {from, body} sends an SMS to the account's number (Twilio's form-encoded inbound message
// webhook to `sms_url`) and POST /_sim/twilio/press {call_sid, digits} presses a key on a
// call (the <Gather> action of the call's TwiML), each signed with X-Twilio-Signature exactly
// as Twilio signs. POST /_sim/twilio/account {account_sid, auth_token, number, sms_url,
// max_per_second} sets the account. Thread-safety: the mutex guards the account and records.
class TwilioSim {
 public:
  static constexpr const char* kDefaultSid = "AC00000000000000000000000000000001";
  static constexpr const char* kDefaultToken = "sim-twilio-auth-token-0123456789";
  static constexpr const char* kDefaultNumber = "+15005550006";

  TwilioSim(ProviderSim& sim, boost::asio::io_context& io);
  void Register(http::Router& router);

 private:
  struct Sent {
    std::string sid;
    std::string from;
    std::string text;  // SMS body, or the call's TwiML (or Url)
    std::int64_t time_ms = 0;
  };
  struct Phone {
    std::vector<Sent> sms;
    std::vector<Sent> calls;
  };

  void Create(const http::Request& req, http::Respond respond, bool call);
  void Reply(const http::Request& req, http::Respond respond);
  void Press(const http::Request& req, http::Respond respond);
  // Posts a signed form to tocsin off the loop and answers with what tocsin said.
  void Deliver(std::string url, std::vector<std::pair<std::string, std::string>> form,
               std::string token, http::Respond respond);

  ProviderSim& sim_;
  boost::asio::io_context& io_;
  mutable std::mutex mu_;
  std::string account_sid_ = kDefaultSid;
  std::string auth_token_ = kDefaultToken;
  std::string number_ = kDefaultNumber;
  std::string sms_url_;
  long long max_per_second_ = 100;
  std::vector<std::int64_t> recent_ms_;  // request times within the last second
  std::map<std::string, Phone> phones_;  // by recipient number
  std::map<std::string, std::pair<std::string, std::string>> calls_;  // CallSid -> {to, twiml}
  std::uint64_t counter_ = 0;
};

}  // namespace tocsin::sim
