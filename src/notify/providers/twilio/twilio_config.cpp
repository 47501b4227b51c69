#include <cctype>

#include "notify/providers/provider_checks.h"
#include "tocsin/oncall/phone.h"

namespace tocsin::notify {

void CheckTwilioConfig(const config::TwilioConfig& c, const WhereFn& where,
                       config::Diagnostics& diags) {
  bool sid_ok = c.account_sid.size() == 34 && c.account_sid.rfind("AC", 0) == 0;
  for (std::size_t i = 2; sid_ok && i < c.account_sid.size(); ++i) {
    sid_ok = std::isxdigit(static_cast<unsigned char>(c.account_sid[i])) != 0;
  }
  if (!sid_ok) {
    diags.Error(where("account_sid"),
                "providers.twilio.account_sid: the Account SID from Twilio's console, \"AC\" and "
                "32 hexadecimal digits");
  }
  if (c.from != oncall::PhoneE164(c.from) || c.from.empty()) {
    diags.Error(where("from"),
                "providers.twilio.from: your Twilio phone number in E.164 form, e.g. "
                "+14155550100 (a plus, the country code and the number, no blanks)");
  }
  // A pasted endpoint would post to .../2010-04-01/2010-04-01/...: every page a 404.
  if (c.api_url.find("/2010-04-01") != std::string::npos) {
    diags.Error(where("api_url"),
                "providers.twilio.api_url: give the base URL (https://api.twilio.com); tocsin "
                "appends /2010-04-01/Accounts/...");
  }
  if (c.public_url.find("/webhooks/twilio") != std::string::npos) {
    diags.Error(where("public_url"),
                "providers.twilio.public_url: give the base URL at which Twilio reaches tocsin "
                "(e.g. https://tocsin.example.com); tocsin appends /webhooks/twilio/...");
  }
  if (c.public_url.rfind("http://", 0) == 0) {
    diags.Warning(where("public_url"),
                  "providers.twilio.public_url: Twilio's callbacks should reach tocsin over "
                  "https (the keypress and SMS replies travel in them)");
  }
}

}  // namespace tocsin::notify
