// TOCSIN_ASAN is defined when the test is compiled with AddressSanitizer, by either compiler:
// GCC defines __SANITIZE_ADDRESS__, clang (the `asan` preset) only answers __has_feature.
// Tests use it to scale down pure-volume work whose property holds at a smaller scale, and
// say at each use why the smaller scale still proves it.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define TOCSIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TOCSIN_ASAN 1
#endif
#endif
