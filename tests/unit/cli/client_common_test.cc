#include "cli/client_common.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace shoal::cli {
namespace {

TEST(ClientCommon, ContentRange) {
  EXPECT_EQ(content_range(0, 1), "bytes 0-0/*");
  EXPECT_EQ(content_range(0, 64ull << 20), "bytes 0-67108863/*");
  EXPECT_EQ(content_range(67108864, 10), "bytes 67108864-67108873/*");
}

TEST(ClientCommon, UploadIdFromLocationOrBody) {
  http::Response r;
  r.headers = {{"Location", "/uploads/abc123"}};
  EXPECT_EQ(upload_id_from(r), "abc123");
  r.headers = {{"location", "http://h/prefix/uploads/xyz?x=1"}};
  EXPECT_EQ(upload_id_from(r), "xyz");
  r.headers = {};
  r.body = R"({"id": "fromjson", "offset": 0})";
  EXPECT_EQ(upload_id_from(r), "fromjson");
  r.body = "{}";
  EXPECT_EQ(upload_id_from(r), std::nullopt);
}

TEST(ClientCommon, UploadOffset) {
  http::Response r;
  EXPECT_EQ(upload_offset_from(r), std::nullopt);
  r.headers = {{"Upload-Offset", "1048576"}};
  EXPECT_EQ(upload_offset_from(r), 1048576u);
  r.headers = {{"Upload-Offset", "12x"}};
  EXPECT_EQ(upload_offset_from(r), std::nullopt);
}

TEST(ClientCommon, ResumeKeyDependsOnEveryPart) {
  std::string k = resume_key("/data/a.bin", 100, 5, "http://o:1");
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, resume_key("/data/a.bin", 100, 5, "http://o:1"));
  EXPECT_NE(k, resume_key("/data/b.bin", 100, 5, "http://o:1"));
  EXPECT_NE(k, resume_key("/data/a.bin", 101, 5, "http://o:1"));
  EXPECT_NE(k, resume_key("/data/a.bin", 100, 6, "http://o:1"));
  EXPECT_NE(k, resume_key("/data/a.bin", 100, 5, "http://o:2"));
  // No ambiguity from concatenation.
  EXPECT_NE(resume_key("/a1", 0, 5, "x"), resume_key("/a", 10, 5, "x"));
}

TEST(ClientCommon, DefaultStateDirFollowsXdg) {
  const char* home = std::getenv("HOME");
  std::string saved_home = home ? home : "";
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(default_state_dir(), "/xdg/shoal");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_state_dir(), "/home/u/.cache/shoal");
  if (home) setenv("HOME", saved_home.c_str(), 1);
}

TEST(ClientCommon, Refusal) {
  http::Response r;
  r.status = 413;
  r.body = R"({"error":"TOO_LARGE","message":"body over the limit"})";
  EXPECT_EQ(refusal("origin", *Url::parse("http://127.0.0.1:4100"), "upload", r),
            "origin http://127.0.0.1:4100 refused the upload: body over the limit (413 TOO_LARGE)");
}

TEST(ClientCommon, ExpandShortFlags) {
  Args in = {"sha256:x", "-o", "-", "-q", "-ofile", "--", "-o"};
  Args want = {"sha256:x", "--output", "-", "--quiet", "--output=file", "--", "-o"};
  EXPECT_EQ(expand_short_flags(in, {{'o', "output"}, {'q', "quiet"}}), want);
}

}  // namespace
}  // namespace shoal::cli
