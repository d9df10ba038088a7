// Identifier generation. Randomness is injected so tests can be deterministic.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace mlforge {

// Thread-safe source of random identifiers.
class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // 32 lowercase hex chars, like MLflow's uuid4().hex run ids.
  virtual std::string NewHexId() = 0;
};

// Backed by the OS entropy source (OpenSSL RAND_bytes).
std::unique_ptr<IdGenerator> MakeRandomIdGenerator();
// Deterministic sequence for tests: seed-derived, never repeats within a process.
std::unique_ptr<IdGenerator> MakeSequentialIdGenerator(uint64_t seed);

}  // namespace mlforge
