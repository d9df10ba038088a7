#include "tracking/run_names.h"

#include <array>
#include <charconv>
#include <string_view>

namespace mlforge::tracking {
namespace {

constexpr std::array<std::string_view, 32> kAdjectives = {
    "amazing", "bold",    "brave",   "bright",  "calm",     "clever",  "crisp",   "dapper",
    "eager",   "fearless", "gentle", "glowing", "grand",    "honest",  "humble",  "jolly",
    "keen",    "lively",  "lucky",   "merry",   "nimble",   "polite",  "quick",   "quiet",
    "rare",    "serene",  "sharp",   "smooth",  "steady",   "sunny",   "swift",   "wise"};
constexpr std::array<std::string_view, 32> kNouns = {
    "ant",   "bass",  "bear",  "bee",    "carp",  "crane", "crow",  "deer",
    "dove",  "eel",   "finch", "fox",    "frog",  "goat",  "hare",  "hawk",
    "heron", "koi",   "lark",  "lynx",   "mole",  "moth",  "newt",  "owl",
    "panda", "quail", "seal",  "shrew",  "snail", "stork", "toad",  "wolf"};

}  // namespace

std::string GenerateRunName(IdGenerator& ids) {
  std::string hex = ids.NewHexId();
  uint64_t n = 0;
  std::from_chars(hex.data() + hex.size() - 12, hex.data() + hex.size(), n, 16);
  std::string name(kAdjectives[n % kAdjectives.size()]);
  n /= kAdjectives.size();
  name += '-';
  name += kNouns[n % kNouns.size()];
  n /= kNouns.size();
  name += '-';
  name += std::to_string(n % 1000);
  return name;
}

}  // namespace mlforge::tracking
