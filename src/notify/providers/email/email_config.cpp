#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

void CheckEmailConfig(const config::EmailConfig& c, const WhereFn& where,
                      config::Diagnostics& diags) {
  if (c.from.find('@') == std::string::npos) {
    diags.Error(where("from"),
                "providers.email.from: an address such as tocsin@example.com (SMTP servers "
                "refuse mail without one)");
  }
}

}  // namespace tocsin::notify
