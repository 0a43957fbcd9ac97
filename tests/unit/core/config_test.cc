#include "core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace shoal {
namespace {

using std::chrono::milliseconds;

std::vector<ConfigKey> schema() {
  return {
      {"listen", ConfigType::address, "127.0.0.1:4100", "address to listen on"},
      {"data", ConfigType::string, "", "data directory"},
      {"max_upload_size", ConfigType::size, "64GiB", "largest accepted upload"},
      {"upload_idle_timeout", ConfigType::duration, "30m", "abandon idle uploads after"},
      {"quiet", ConfigType::boolean, "", "print nothing on success"},
      {"workers", ConfigType::integer, "4", "worker threads"},
  };
}

// The message of the ConfigError that f throws, or "" if it throws nothing.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// A config file in the test's temporary directory, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string tmpl = ::testing::TempDir() + "shoal_config_XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = tmpl;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ParseSize, Accepts) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("1234"), 1234u);
  EXPECT_EQ(parse_size("12B"), 12u);
  EXPECT_EQ(parse_size("2K"), 2048u);
  EXPECT_EQ(parse_size("2KiB"), 2048u);
  EXPECT_EQ(parse_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_size("3M"), 3ull << 20);
  EXPECT_EQ(parse_size("64GiB"), 64ull << 30);
  EXPECT_EQ(parse_size("1G"), 1ull << 30);
  EXPECT_EQ(parse_size("2TiB"), 2ull << 40);
  EXPECT_EQ(parse_size("2T"), 2ull << 40);
  EXPECT_EQ(parse_size("5KB"), 5000u);
  EXPECT_EQ(parse_size("5MB"), 5000000u);
  EXPECT_EQ(parse_size("5GB"), 5000000000u);
  EXPECT_EQ(parse_size("5TB"), 5000000000000u);
  EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615u);
  EXPECT_EQ(parse_size("16777215TiB"), 16777215ull << 40);
}

TEST(ParseSize, Rejects) {
  for (const char* bad :
       {"", "B", "KiB", "-1", "+1", " 1", "1 ", "1 KiB", "1.5GiB", "12XB", "1kib", "1k", "1KIB",
        "1GiBs", "0x10", "18446744073709551616", "16777216TiB", "99999999999999999999999"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  }
}

TEST(ParseDuration, Accepts) {
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300000));
  EXPECT_EQ(parse_duration("2h"), milliseconds(7200000));
  EXPECT_EQ(parse_duration("9223372036854775807ms"), milliseconds(INT64_MAX));
  EXPECT_EQ(parse_duration("2562047788015h"), milliseconds(2562047788015LL * 3600000));
}

TEST(ParseDuration, Rejects) {
  for (const char* bad : {"", "30", "s", "-1s", "1.5s", "1 s", "1S", "1d", "1sec", "1msx", "ms5",
                          "9223372036854775808ms", "9223372036854776s", "2562047788016h",
                          "99999999999999999999999s"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(ParseBool, AcceptsAndRejects) {
  for (const char* t : {"true", "yes", "on", "1", "TRUE", "Yes"})
    EXPECT_EQ(parse_bool(t), true) << t;
  for (const char* f : {"false", "no", "off", "0", "False", "OFF"})
    EXPECT_EQ(parse_bool(f), false) << f;
  for (const char* bad : {"", "2", "y", "n", "tru", "true ", "enabled", "-1"}) {
    EXPECT_FALSE(parse_bool(bad).has_value()) << bad;
  }
}

TEST(ParseHostPort, Accepts) {
  std::string host;
  uint16_t port = 1;
  EXPECT_TRUE(parse_host_port("127.0.0.1:4100", host, port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 4100);
  EXPECT_TRUE(parse_host_port("localhost:0", host, port));
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 0);
  EXPECT_TRUE(parse_host_port("[::1]:65535", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 65535);
  EXPECT_TRUE(parse_host_port("[fe80::1%eth0]:80", host, port));
  EXPECT_EQ(host, "fe80::1%eth0");
}

TEST(ParseHostPort, Rejects) {
  for (const char* bad :
       {"",        ":80",      "host",     "host:",        "host:65536",
        "host:-1", "host:+80", "host:8 0", "host:http",    "host:000080",
        "::1:80",  "[::1]80",  "[::1]:",   "[]:80",        "[::1",
        "::1]:80", "ho st:80", "a/b:80",   "user@host:80", "host:99999999999999999999"}) {
    std::string host = "unchanged";
    uint16_t port = 7;
    EXPECT_FALSE(parse_host_port(bad, host, port)) << bad;
    EXPECT_EQ(host, "unchanged") << bad;
    EXPECT_EQ(port, 7) << bad;
  }
}

TEST(Config, DefaultsAndNaturalZeroes) {
  Config c(schema());
  EXPECT_EQ(c.str("listen"), "127.0.0.1:4100");
  EXPECT_EQ(c.str("data"), "");
  EXPECT_EQ(c.size("max_upload_size"), 64ull << 30);
  EXPECT_EQ(c.duration("upload_idle_timeout"), milliseconds(30 * 60 * 1000));
  EXPECT_FALSE(c.boolean("quiet"));
  EXPECT_EQ(c.integer("workers"), 4);
  EXPECT_FALSE(c.is_set("listen"));
  EXPECT_FALSE(c.help_requested());
  EXPECT_TRUE(c.positional().empty());
}

TEST(Config, FlagsBothSpellingsAndPositionals) {
  Config c(schema());
  c.parse_args({"first", "--listen", "0.0.0.0:0", "--max-upload-size=1KiB", "--quiet", "second",
                "--workers", "-2", "--upload_idle_timeout", "10s"});
  EXPECT_EQ(c.str("listen"), "0.0.0.0:0");
  EXPECT_EQ(c.size("max_upload_size"), 1024u);
  EXPECT_TRUE(c.boolean("quiet"));
  EXPECT_EQ(c.integer("workers"), -2);
  EXPECT_EQ(c.duration("upload_idle_timeout"), milliseconds(10000));
  EXPECT_EQ(c.positional(), (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(c.is_set("listen"));
  EXPECT_FALSE(c.is_set("data"));
}

TEST(Config, BoolFlagForms) {
  Config c(schema());
  c.parse_args({"--quiet", "true"});  // a bare bool flag takes no value
  EXPECT_TRUE(c.boolean("quiet"));
  EXPECT_EQ(c.positional(), (std::vector<std::string>{"true"}));
  c.parse_args({"--quiet=false"});
  EXPECT_FALSE(c.boolean("quiet"));
  c.parse_args({"--quiet=on"});
  EXPECT_TRUE(c.boolean("quiet"));
}

TEST(Config, HelpAndDoubleDash) {
  Config c(schema());
  c.parse_args({"--help", "--", "--listen", "-x"});
  EXPECT_TRUE(c.help_requested());
  EXPECT_EQ(c.positional(), (std::vector<std::string>{"--listen", "-x"}));
  EXPECT_FALSE(c.is_set("listen"));
}

TEST(Config, FlagErrors) {
  Config c(schema());
  EXPECT_EQ(error_of([&] { c.parse_args({"--foo"}); }), "unknown flag --foo (try --help)");
  EXPECT_EQ(error_of([&] { c.parse_args({"--foo=1"}); }), "unknown flag --foo (try --help)");
  EXPECT_EQ(error_of([&] { c.parse_args({"--data"}); }), "flag --data needs a value");
  EXPECT_EQ(error_of([&] { c.parse_args({"--data", "--quiet"}); }), "flag --data needs a value");
  EXPECT_EQ(error_of([&] { c.parse_args({"--config"}); }), "flag --config needs a value");
  EXPECT_EQ(error_of([&] {
              c.parse_args({"--max-upload-size", "12XB"});
            }),
            "flag --max-upload-size: invalid value \"12XB\" for max_upload_size: expected a size "
            "such as 512MiB");
  EXPECT_EQ(error_of([&] { c.parse_args({"--upload-idle-timeout=30"}); }),
            "flag --upload-idle-timeout: invalid value \"30\" for upload_idle_timeout: expected a "
            "duration such as 500ms, 30s, 5m or 2h");
  EXPECT_EQ(error_of([&] { c.parse_args({"--quiet=maybe"}); }),
            "flag --quiet: invalid value \"maybe\" for quiet: expected true or false");
  EXPECT_EQ(error_of([&] {
              c.parse_args({"--listen", "4100"});
            }),
            "flag --listen: invalid value \"4100\" for listen: expected HOST:PORT such as "
            "127.0.0.1:4100");
  EXPECT_EQ(error_of([&] {
              c.parse_args({"--workers", "four"});
            }),
            "flag --workers: invalid value \"four\" for workers: expected an integer");
  EXPECT_EQ(
      error_of([&] {
        c.parse_args({"--workers", "99999999999999999999"});
      }),
      "flag --workers: invalid value \"99999999999999999999\" for workers: expected an integer");
  EXPECT_EQ(c.integer("workers"), 4);  // failed sets leave the old value
}

TEST(Config, LoadsFileWithCommentsQuotesAndBlankLines) {
  TempFile f(
      "# Shoal origin\n"
      "\n"
      "   listen = [::1]:4200   \n"
      "max_upload_size=2MiB # trailing comment\n"
      "\tupload_idle_timeout = 90s\r\n"
      "data = \"/srv/shoal data #1\"  # quoted keeps '#'\n"
      "quiet = yes\n"
      "workers = 8#not-a-comment-without-space\n");
  Config c(schema());
  EXPECT_EQ(error_of([&] { c.load_file(f.path()); }),
            "config file " + f.path() +
                " line 8: invalid value \"8#not-a-comment-without-space\" for workers: expected an "
                "integer");
  EXPECT_EQ(c.str("listen"), "[::1]:4200");
  EXPECT_EQ(c.size("max_upload_size"), 2u << 20);
  EXPECT_EQ(c.duration("upload_idle_timeout"), milliseconds(90000));
  EXPECT_EQ(c.str("data"), "/srv/shoal data #1");
  EXPECT_TRUE(c.boolean("quiet"));
}

TEST(Config, FileWithoutTrailingNewlineAndEmptyValues) {
  TempFile f("data =\nworkers = 3");
  Config c(schema());
  c.load_file(f.path());
  EXPECT_EQ(c.str("data"), "");
  EXPECT_TRUE(c.is_set("data"));
  EXPECT_EQ(c.integer("workers"), 3);
}

TEST(Config, FileErrorsNameTheLine) {
  struct Case {
    std::string content, error;
  };
  std::vector<Case> cases = {
      {"listen = 127.0.0.1:1\n\n# c\nfoo = 1\n", "line 4: unknown key \"foo\""},
      {"max-upload-size = 1KiB\n", "line 1: unknown key \"max-upload-size\""},
      {"# c\nlisten 127.0.0.1:1\n", "line 2: expected key = value"},
      {"= 5\n", "line 1: missing key before '='"},
      {"data = \"/unterminated\n", "line 1: unterminated quoted value"},
      {"data = \"/a\" b\n", "line 1: unexpected text after quoted value"},
      {"max_upload_size = 12XB\n",
       "line 1: invalid value \"12XB\" for max_upload_size: expected a size such as 512MiB"},
      {"quiet = \n", "line 1: invalid value \"\" for quiet: expected true or false"},
  };
  for (const Case& k : cases) {
    TempFile f(k.content);
    Config c(schema());
    EXPECT_EQ(error_of([&] { c.load_file(f.path()); }), "config file " + f.path() + " " + k.error)
        << k.content;
  }
}

TEST(Config, MissingFileIsAnError) {
  Config c(schema());
  EXPECT_EQ(error_of([&] { c.load_file("/nonexistent/shoal.conf"); }),
            "config file /nonexistent/shoal.conf: cannot open: No such file or directory");
  EXPECT_EQ(error_of([&] {
              c.parse_args({"--config", "/nonexistent/shoal.conf"});
            }),
            "config file /nonexistent/shoal.conf: cannot open: No such file or directory");
  EXPECT_EQ(error_of([&] { c.load_file("/"); }), "config file /: cannot read: Is a directory");
}

TEST(Config, PrecedenceDefaultThenFileThenFlag) {
  TempFile f("workers = 8\nquiet = true\ndata = /from/file\n");
  Config c(schema());
  c.parse_args({"--workers", "16", "--config", f.path(), "--data=/from/flag"});
  EXPECT_EQ(c.integer("workers"), 16);           // flag given before --config still wins
  EXPECT_EQ(c.str("data"), "/from/flag");        // flag after --config wins
  EXPECT_TRUE(c.boolean("quiet"));               // file beats default
  EXPECT_EQ(c.str("listen"), "127.0.0.1:4100");  // default untouched
  EXPECT_TRUE(c.positional().empty());
}

TEST(Config, ConfigEqualsFormAndBoolFlagAfterFile) {
  TempFile f("quiet = true\n");
  Config c(schema());
  c.parse_args({"--quiet=false", "--config=" + f.path()});
  EXPECT_FALSE(c.boolean("quiet"));
}

TEST(Config, UnknownFlagIsReportedBeforeFileIsRead) {
  Config c(schema());
  EXPECT_EQ(error_of([&] {
              c.parse_args({"--config", "/nonexistent", "--bogus"});
            }),
            "unknown flag --bogus (try --help)");
}

TEST(Config, SetValidatesByType) {
  Config c(schema());
  c.set("max_upload_size", "1TiB", "test");
  EXPECT_EQ(c.size("max_upload_size"), 1ull << 40);
  EXPECT_EQ(error_of([&] { c.set("listen", "nowhere", "env SHOAL_LISTEN"); }),
            "env SHOAL_LISTEN: invalid value \"nowhere\" for listen: expected HOST:PORT such as "
            "127.0.0.1:4100");
  EXPECT_EQ(error_of([&] { c.set("nope", "1", ""); }), "config: unknown key \"nope\"");
  c.set("data", "anything at all \"", "test");
  EXPECT_EQ(c.str("data"), "anything at all \"");
}

TEST(Config, AccessorsRejectUnknownKeysAndWrongTypes) {
  Config c(schema());
  EXPECT_EQ(error_of([&] { (void)c.str("nope"); }),
            "config: no key \"nope\" in this command's schema");
  EXPECT_EQ(error_of([&] { (void)c.is_set("nope"); }),
            "config: no key \"nope\" in this command's schema");
  EXPECT_EQ(error_of([&] { (void)c.size("workers"); }),
            "config: key workers is of type integer, not size");
  EXPECT_FALSE(error_of([&] { (void)c.boolean("listen"); }).empty());
  EXPECT_FALSE(error_of([&] { (void)c.duration("quiet"); }).empty());
  EXPECT_FALSE(error_of([&] { (void)c.integer("data"); }).empty());
}

TEST(Config, SchemaErrors) {
  EXPECT_FALSE(error_of([] { Config({{"size", ConfigType::size, "big", "h"}}); }).empty());
  EXPECT_FALSE(error_of([] {
                 Config({{"a", ConfigType::string, "", "h"}, {"a", ConfigType::string, "", "h"}});
               }).empty());
  EXPECT_FALSE(error_of([] { Config({{"Bad-Name", ConfigType::string, "", "h"}}); }).empty());
  EXPECT_TRUE(error_of([] { Config({}); }).empty());
}

TEST(Config, Usage) {
  Config c(schema());
  EXPECT_EQ(c.usage(),
            "  --listen host:port               address to listen on (default: 127.0.0.1:4100)\n"
            "  --data string                    data directory\n"
            "  --max-upload-size size           largest accepted upload (default: 64GiB)\n"
            "  --upload-idle-timeout duration   abandon idle uploads after (default: 30m)\n"
            "  --quiet                          print nothing on success\n"
            "  --workers integer                worker threads (default: 4)\n");
}

TEST(Config, DeprecatedNamesStillWorkAndAreNoted) {
  Config c({{"max_streams", ConfigType::integer, "100", "h", {"old_streams"}}});
  EXPECT_TRUE(c.deprecations().empty());
  c.parse_args({"--old-streams", "7"});
  EXPECT_EQ(c.integer("max_streams"), 7);
  ASSERT_EQ(c.deprecations().size(), 1u);
  EXPECT_EQ(c.deprecations()[0], "config key old_streams is deprecated: use max_streams");
  c.set("old_streams", "8", "test");  // noted once however often it is used
  EXPECT_EQ(c.integer("max_streams"), 8);
  EXPECT_EQ(c.deprecations().size(), 1u);
  c.parse_args({"--max-streams", "9"});
  EXPECT_EQ(c.integer("max_streams"), 9);
}

}  // namespace
}  // namespace shoal
