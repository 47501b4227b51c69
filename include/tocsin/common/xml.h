#pragma once

#include <string>
#include <string_view>

namespace tocsin {

// Text safe inside an XML element or a double- or single-quoted attribute (TwiML): & < > " '
// escaped, and control characters XML 1.0 forbids (all but tab, CR and LF) made blanks.
std::string XmlEscape(std::string_view s);

}  // namespace tocsin
