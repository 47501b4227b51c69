#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/common/worker_pool.h"

namespace tocsin::store {

// Runs `parse(i)` for every i in [0, n), split over up to four threads (this one and a
// WorkerPool of the others, for the duration of the call) when n is large. Startup reads thousands
// of JSON rows before it serves (every open incident, every pending delivery), and parsing them,
// not reading them, is what takes the time: 10,000 incidents took 0.4 s on one core. `parse` must
// touch only what belongs to its index. An exception from any call is rethrown here once every
// thread has finished.
template <typename Parse>
void ParseRowsInParallel(std::size_t n, Parse&& parse) {
  constexpr std::size_t kSerialBelow = 512;  // a thread costs more than a few hundred rows
  const std::size_t cores = std::max(1U, std::thread::hardware_concurrency());
  const std::size_t threads = n < kSerialBelow ? 1 : std::min<std::size_t>(cores, 4);
  if (threads == 1) {
    for (std::size_t i = 0; i < n; ++i) parse(i);
    return;
  }
  std::vector<std::exception_ptr> failed(threads);
  auto run = [&](std::size_t part) {
    try {
      for (std::size_t i = part * n / threads; i < (part + 1) * n / threads; ++i) parse(i);
    } catch (...) {
      failed[part] = std::current_exception();
    }
  };
  {
    WorkerPool others(threads - 1);  // Join (the destructor) waits for every part
    for (std::size_t part = 1; part < threads; ++part) others.Submit([&run, part] { run(part); });
    run(0);
  }
  for (auto& e : failed) {
    if (e) std::rethrow_exception(e);
  }
}

// `parse(text)` (a Result<T>) for every text, on several threads as above; the values in the
// order of `texts`, or the first row's error.
template <typename T, typename Parse>
Result<std::vector<T>> ParseEachInParallel(const std::vector<std::string>& texts, Parse&& parse) {
  std::vector<T> out(texts.size());
  std::vector<std::optional<Error>> errors(texts.size());
  ParseRowsInParallel(texts.size(), [&](std::size_t i) {
    auto value = parse(texts[i]);
    if (value) {
      out[i] = std::move(*value);
    } else {
      errors[i] = value.error();
    }
  });
  for (auto& e : errors) {
    if (e) return Fail(std::move(*e));
  }
  return out;
}

}  // namespace tocsin::store
