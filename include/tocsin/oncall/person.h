#pragma once

#include <string>

namespace tocsin::oncall {

// A person from the roster, with the identities each channel needs to reach them.
struct Person {
  std::string id;                 // roster key, e.g. "olena"
  std::string name;               // "Olena Kovalenko"
  std::string time_zone;          // IANA, e.g. "Europe/Kyiv"
  std::string slack_user_id;      // "U024BE7LH"
  std::string pagerduty_user_id;  // "PXPGF42"
  std::string opsgenie_username;  // "olena@example.com"
  std::string jsm_username;       // Atlassian account e-mail in JSM Operations
  std::string email;
  std::string phone;
  friend bool operator==(const Person&, const Person&) = default;
};

}  // namespace tocsin::oncall
