#pragma once

// The fixture of the failover tests: a cluster that sees a fault beside one that does not (the
// run without faults), in one temporary directory; on failure, every instance's log.

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "ha/ha_cluster.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

namespace tocsin::ha::testing {

class TwoClustersTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    std::string logs;
    for (auto* c : {calm_.get(), faulty_.get()}) {
      if (c) logs += c->Logs();
    }
    ADD_FAILURE() << logs;
  }

  tocsin::testing::TempDir dir_;
  // Declared before the clusters: their processes end before the schemas are dropped.
  std::unique_ptr<tocsin::testing::TestStore> calm_store_;
  std::unique_ptr<tocsin::testing::TestStore> faulty_store_;
  std::unique_ptr<HaCluster> calm_;
  std::unique_ptr<HaCluster> faulty_;
};

}  // namespace tocsin::ha::testing
