#include "base/ids.h"

#include <openssl/rand.h>

#include <atomic>
#include <cstdio>
#include <stdexcept>

namespace mlforge {
namespace {

std::string ToHex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

class RandomIdGenerator final : public IdGenerator {
 public:
  std::string NewHexId() override {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      // Unrecoverable: without entropy we cannot mint unique ids.
      std::fprintf(stderr, "fatal: RAND_bytes failed\n");
      std::abort();
    }
    return ToHex(bytes, sizeof(bytes));
  }
};

class SequentialIdGenerator final : public IdGenerator {
 public:
  explicit SequentialIdGenerator(uint64_t seed) : seed_(seed) {}
  std::string NewHexId() override {
    uint64_t n = next_.fetch_add(1);
    char buf[33];
    std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(seed_),
                  static_cast<unsigned long long>(n));
    return buf;
  }

 private:
  uint64_t seed_;
  std::atomic<uint64_t> next_{1};
};

}  // namespace

std::unique_ptr<IdGenerator> MakeRandomIdGenerator() {
  return std::make_unique<RandomIdGenerator>();
}
std::unique_ptr<IdGenerator> MakeSequentialIdGenerator(uint64_t seed) {
  return std::make_unique<SequentialIdGenerator>(seed);
}

}  // namespace mlforge
