#pragma once

#include <string_view>

namespace tocsin {

std::string_view Version();
std::string_view Revision();
std::string_view BuildDate();

}  // namespace tocsin
