// Prices one iteration. The serving loop asks it for the seconds a StepBatch takes; a machine model
// (the SystemC machine, one elaboration per serving run) or an analytic formula implements it.
#pragma once

#include "sim/serving/step_batch.h"

namespace dfsim {

class StepCost {
 public:
  virtual ~StepCost() = default;
  // Seconds from the step's start to the end of its last kernel (> 0, finite).
  virtual double step_seconds(const StepBatch& batch) = 0;
};

}  // namespace dfsim
