// Manifests: validation, canonical text, diff. Format: docs/data.md.
#include <fmt/core.h>

#include <algorithm>
#include <charconv>

#include "base/hash.h"
#include "data/data.h"

namespace mlforge::data {
namespace {

// Quotes at most ~100 bytes of a path, control and non-ASCII bytes escaped,
// so a hostile name cannot break the message or a terminal.
std::string Shown(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size() && i < 100; ++i) {
    unsigned char c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (path.size() > 100) out += "...";
  return "'" + out + "'";
}

// Length of the UTF-8 sequence starting at s[i], or 0 if malformed
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

Status BadPath(std::string_view path, std::string_view why) {
  return InvalidArgument(fmt::format("Invalid manifest path {}: {}", Shown(path), why));
}

}  // namespace

int64_t Manifest::TotalSize() const {
  int64_t total = 0;
  for (const ManifestEntry& e : entries) total += e.size;
  return total;
}

Status ValidateManifestPath(std::string_view path) {
  if (path.empty()) return BadPath(path, "empty");
  if (path.size() > kMaxManifestPathBytes) return BadPath(path, "too long");
  if (path.front() == '/') return BadPath(path, "absolute");
  for (size_t i = 0; i < path.size();) {
    unsigned char c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7f) return BadPath(path, "control byte");
    if (c == '\\') return BadPath(path, "backslash");
    size_t n = Utf8SequenceLength(path, i);
    if (n == 0) return BadPath(path, "not UTF-8");
    i += n;
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) return BadPath(path, "empty segment");
    if (segment == "." || segment == "..") return BadPath(path, "'.' or '..' segment");
    if (segment.size() > kMaxManifestSegmentBytes) return BadPath(path, "segment too long");
    start = end + 1;
  }
  return Status::Ok();
}

Status ValidateDatasetName(std::string_view name) {
  if (name.empty() || name.size() > kMaxDatasetNameBytes) {
    return InvalidArgument(fmt::format("Dataset name must have 1 to {} bytes", kMaxDatasetNameBytes));
  }
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    size_t n = Utf8SequenceLength(name, i);
    if (c < 0x20 || c == 0x7f || n == 0) {
      return InvalidArgument(fmt::format("Invalid dataset name {}", Shown(name)));
    }
    i += n;
  }
  return Status::Ok();
}

Result<Manifest> MakeManifest(std::vector<ManifestEntry> entries) {
  for (const ManifestEntry& e : entries) {
    RETURN_IF_ERROR(ValidateManifestPath(e.path));
    if (!IsSha256Hex(e.sha256)) {
      return Err(InvalidArgument(fmt::format("Invalid sha256 for {}", Shown(e.path))));
    }
    if (e.size < 0) return Err(InvalidArgument(fmt::format("Negative size for {}", Shown(e.path))));
  }
  std::sort(entries.begin(), entries.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  for (size_t i = 1; i < entries.size(); ++i) {
    const std::string& prev = entries[i - 1].path;
    const std::string& cur = entries[i].path;
    if (prev == cur) return Err(InvalidArgument(fmt::format("Duplicate path {}", Shown(cur))));
  }
  // "a" and "a/b" cannot both be files. With bytewise order, "a/..." need not
  // follow "a" directly ("a-x" sorts between), so look the prefix up.
  for (const ManifestEntry& e : entries) {
    for (size_t slash = e.path.find('/'); slash != std::string::npos;
         slash = e.path.find('/', slash + 1)) {
      std::string_view dir(e.path.data(), slash);
      auto it = std::lower_bound(
          entries.begin(), entries.end(), dir,
          [](const ManifestEntry& a, std::string_view p) { return std::string_view(a.path) < p; });
      if (it != entries.end() && it->path == dir) {
        return Err(InvalidArgument(
            fmt::format("Path {} is both a file and a directory", Shown(std::string(dir)))));
      }
    }
  }
  return Manifest{std::move(entries)};
}

std::string EncodeManifest(const Manifest& manifest) {
  std::string out;
  out.reserve(manifest.entries.size() * 100);
  char size_buf[24];
  for (const ManifestEntry& e : manifest.entries) {
    out += e.sha256;
    out += ' ';
    auto [end, ec] = std::to_chars(size_buf, size_buf + sizeof(size_buf), e.size);
    out.append(size_buf, end);
    out += ' ';
    out += e.path;
    out += '\n';
  }
  return out;
}

Result<Manifest> ParseManifest(std::string_view text) {
  std::vector<ManifestEntry> entries;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      return Err(InvalidArgument(fmt::format("Manifest line {} does not end with a newline", line_no)));
    }
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    auto bad = [&](std::string_view why) {
      return Err(InvalidArgument(fmt::format("Manifest line {}: {}", line_no, why)));
    };
    if (line.size() < 67 || line[64] != ' ') return bad("expected '<sha256> <size> <path>'");
    std::string_view sha = line.substr(0, 64);
    if (!IsSha256Hex(sha)) return bad("invalid sha256");
    size_t space = line.find(' ', 65);
    if (space == std::string_view::npos) return bad("expected '<sha256> <size> <path>'");
    std::string_view size_text = line.substr(65, space - 65);
    int64_t size = 0;
    auto [ptr, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
    if (ec != std::errc() || ptr != size_text.data() + size_text.size() || size < 0 ||
        (size_text.size() > 1 && size_text[0] == '0')) {
      return bad("invalid size");
    }
    std::string_view path = line.substr(space + 1);
    if (!entries.empty() && !(std::string_view(entries.back().path) < path)) {
      return bad("paths are not sorted and unique");
    }
    entries.push_back(ManifestEntry{std::string(path), std::string(sha), size});
  }
  // Sorting is a no-op now; MakeManifest validates paths and file/dir clashes.
  return MakeManifest(std::move(entries));
}

std::string ManifestId(const Manifest& manifest) { return Sha256::HexOf(EncodeManifest(manifest)); }

ManifestDiff DiffManifests(const Manifest& from, const Manifest& to) {
  ManifestDiff diff;
  size_t i = 0, j = 0;
  while (i < from.entries.size() || j < to.entries.size()) {
    if (j == to.entries.size() || (i < from.entries.size() && from.entries[i].path < to.entries[j].path)) {
      diff.removed.push_back(from.entries[i++]);
    } else if (i == from.entries.size() || to.entries[j].path < from.entries[i].path) {
      diff.added.push_back(to.entries[j++]);
    } else {
      if (from.entries[i].sha256 != to.entries[j].sha256) {
        diff.modified.emplace_back(from.entries[i], to.entries[j]);
      }
      ++i;
      ++j;
    }
  }
  return diff;
}

std::vector<std::string> DigestsNamingVersion(std::string_view version_id) {
  std::vector<std::string> out;
  for (size_t n = 8; n <= version_id.size(); ++n) out.emplace_back(version_id.substr(0, n));
  return out;
}

}  // namespace mlforge::data
