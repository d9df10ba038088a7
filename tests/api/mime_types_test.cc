#include "api/mime_types.h"

#include <gtest/gtest.h>

namespace mlforge::api {
namespace {

TEST(MimeTypesTest, TextExtensionsAndMlflowFiles) {
  for (std::string_view p : {"a.txt", "x/y/model.yaml", "c.json", "d.csv", "e.py", "MLmodel",
                             "dir/MLproject", "f.log", "g.md", "h.toml"}) {
    EXPECT_EQ(GuessMimeType(p), "text/plain") << p;
  }
}

TEST(MimeTypesTest, OtherTypesByExtension) {
  EXPECT_EQ(GuessMimeType("plot.png"), "image/png");
  EXPECT_EQ(GuessMimeType("PLOT.PNG"), "image/png");
  EXPECT_EQ(GuessMimeType("a/b/photo.jpeg"), "image/jpeg");
  EXPECT_EQ(GuessMimeType("fig.svg"), "image/svg+xml");
  EXPECT_EQ(GuessMimeType("report.html"), "text/html");
  EXPECT_EQ(GuessMimeType("doc.pdf"), "application/pdf");
  EXPECT_EQ(GuessMimeType("bundle.tar.gz"), "application/x-tar");
  EXPECT_EQ(GuessMimeType("bundle.tgz"), "application/x-tar");
  EXPECT_EQ(GuessMimeType("data.csv.gz"), "text/csv");
  EXPECT_EQ(GuessMimeType("x.TXT"), "text/plain");  // by the mimetypes table
}

TEST(MimeTypesTest, FallbackIsOctetStream) {
  for (std::string_view p :
       {"model.pkl", "weights.bin.unknown", "noext", ".bashrc", "x.gz", "a.parquet", "dir/"}) {
    EXPECT_EQ(GuessMimeType(p), "application/octet-stream") << p;
  }
}

TEST(MimeTypesTest, WebTypesForTheUi) {
  EXPECT_EQ(WebMimeType("assets/index-1a2b.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(WebMimeType("assets/index-1a2b.css"), "text/css; charset=utf-8");
  EXPECT_EQ(WebMimeType("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(WebMimeType("manifest.json"), "application/json; charset=utf-8");
  EXPECT_EQ(WebMimeType("assets/index.js.map"), "application/json; charset=utf-8");
  EXPECT_EQ(WebMimeType("logo.SVG"), "image/svg+xml; charset=utf-8");
  EXPECT_EQ(WebMimeType("font.woff2"), "font/woff2");
  EXPECT_EQ(WebMimeType("logo.png"), "image/png");
  EXPECT_EQ(WebMimeType("LICENSE"), "application/octet-stream");
  EXPECT_EQ(WebMimeType("x.unknownext"), "application/octet-stream");
}

TEST(MimeTypesTest, AttachmentDisposition) {
  EXPECT_EQ(AttachmentDisposition("a/b/model.pkl"), "attachment; filename=model.pkl");
  EXPECT_EQ(AttachmentDisposition("MLmodel"), "attachment; filename=MLmodel");
  EXPECT_EQ(AttachmentDisposition("my file;x.txt"),
            "attachment; filename=\"my file;x.txt\"; filename*=UTF-8''my%20file%3Bx.txt");
  EXPECT_EQ(AttachmentDisposition("q\"uote.txt"),
            "attachment; filename=\"q_uote.txt\"; filename*=UTF-8''q%22uote.txt");
  EXPECT_EQ(AttachmentDisposition("\xc3\xa9t\xc3\xa9.txt"),
            "attachment; filename=\"_t_.txt\"; filename*=UTF-8''%C3%A9t%C3%A9.txt");
}

}  // namespace
}  // namespace mlforge::api
