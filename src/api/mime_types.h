// Content-Type and Content-Disposition for artifact downloads (private to
// src/api), as MLflow's _guess_mime_type / _response_with_file_attachment_headers.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace mlforge::api {

// "text/plain" for MLflow's text extensions (txt, log, yaml, json, csv, py,
// md, ...) and the files MLmodel / MLproject; else a fixed table after
// Python's mimetypes defaults (a trailing .gz/.bz2/.xz/.Z/.br encoding
// suffix is looked through); else "application/octet-stream". Fixed tables,
// so the answer never depends on the host's /etc/mime.types.
std::string GuessMimeType(std::string_view path);

// The Content-Type a browser needs for a static web file (the UI): the
// table's type without MLflow's text/plain override (a module script served
// as text/plain is refused), plus web fonts and source maps; text types get
// "; charset=utf-8". Else "application/octet-stream".
std::string WebMimeType(std::string_view path);

// "attachment; filename=<basename>" (MLflow's form) when the basename is a
// plain token; otherwise a quoted ASCII fallback plus RFC 6266 filename*.
std::string AttachmentDisposition(std::string_view path);

}  // namespace mlforge::api
