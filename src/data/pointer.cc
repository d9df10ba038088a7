// Pointer files PATH.mlfd (YAML via yaml-cpp). Format: docs/data.md.
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "base/hash.h"
#include "data/data.h"
#include "data/stat_cache.h"

namespace mlforge::data {

namespace fs = std::filesystem;

fs::path PointerFileFor(const fs::path& target) {
  fs::path t = target;
  if (t.has_filename() == false) t = t.parent_path();  // "images/" -> "images"
  if (t.extension() == kPointerSuffix) return t;
  return t.parent_path() / (t.filename().string() + std::string(kPointerSuffix));
}

Result<Pointer> ReadPointer(const fs::path& pointer_file) {
  std::ifstream in(pointer_file);
  if (!in) return Err(NotFound("Cannot read pointer file " + pointer_file.string()));
  std::stringstream text;
  text << in.rdbuf();
  Pointer p;
  try {
    YAML::Node root = YAML::Load(text.str());
    if (!root.IsMap()) return Err(InvalidArgument(pointer_file.string() + ": not a YAML mapping"));
    p.path = root["path"].as<std::string>("");
    p.is_directory = root["type"].as<std::string>("") == "directory";
    p.version_id = root["sha256"].as<std::string>("");
    p.size = root["size"].as<int64_t>(0);
    p.file_count = root["files"].as<int64_t>(0);
    p.dataset = root["dataset"].as<std::string>("");
  } catch (const YAML::Exception& e) {
    return Err(InvalidArgument(pointer_file.string() + ": " + e.what()));
  }
  // The target sits beside the pointer: one path segment, nothing else.
  RETURN_IF_ERROR(ValidateManifestPath(p.path));
  if (p.path.find('/') != std::string::npos) {
    return Err(InvalidArgument(pointer_file.string() + ": 'path' must be a plain name"));
  }
  if (!IsSha256Hex(p.version_id)) {
    return Err(InvalidArgument(pointer_file.string() + ": 'sha256' is not a sha256 hex digest"));
  }
  return p;
}

Status WritePointer(const fs::path& pointer_file, const Pointer& p) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "path" << YAML::Value << p.path;
  out << YAML::Key << "type" << YAML::Value << (p.is_directory ? "directory" : "file");
  out << YAML::Key << "sha256" << YAML::Value << p.version_id;
  out << YAML::Key << "size" << YAML::Value << p.size;
  out << YAML::Key << "files" << YAML::Value << p.file_count;
  out << YAML::Key << "dataset" << YAML::Value << p.dataset;
  out << YAML::EndMap;
  fs::path tmp = pointer_file;
  tmp += UniqueTempSuffix();
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "# mlforge data pointer: commit this file; the data is in the cache (mlforge data "
         "checkout)\n"
      << out.c_str() << "\n";
    if (!f) return Internal("Cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, pointer_file, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return Internal("Cannot write " + pointer_file.string() + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace mlforge::data
