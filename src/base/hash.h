// SHA-256 (OpenSSL) for content addressing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mlforge {

// Incremental SHA-256. Externally synchronized; movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Finishes and returns 64 lowercase hex chars. The object must not be reused.
  std::string FinishHex();

  static std::string HexOf(std::string_view data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True if s is 64 lowercase hex chars.
bool IsSha256Hex(std::string_view s);

}  // namespace mlforge
