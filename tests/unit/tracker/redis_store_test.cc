// The Redis peer store's pure parts: the peer_store value, RESP command encoding and
// reply parsing (libhiredis's reader), the stored entry format, key names and the
// reply shapes the client branches on; then the store's operations against a
// redis-server of the test's own (every PeerEntry field through Redis and back). The
// tracker over Redis, Sentinel and failures: tests/integration/test_tracker_redis.py.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/support/require_tool.h"
#include "tests/unit/support/temp_dir.h"
#include "tracker/peer_store_spec.h"
#include "tracker/redis_peer_store.h"
#include "tracker/redis_protocol.h"

namespace shoal::tracker {
namespace {

using redis::Reply;

RedisTarget parsed(std::string_view text) {
  auto r = parse_peer_store(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  if (!r.ok() || !*r) return {};
  return **r;
}

std::string refusal(std::string_view text) {
  auto r = parse_peer_store(text);
  EXPECT_FALSE(r.ok()) << text << " was accepted";
  if (r.ok()) return {};
  EXPECT_TRUE(r.error().is(Errc::bad_request));
  return r.error().message;
}

TEST(PeerStoreSpec, MemoryIsNoTarget) {
  auto r = parse_peer_store("memory");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(PeerStoreSpec, DirectRedis) {
  RedisTarget t = parsed("redis://10.0.0.5:6380/2");
  EXPECT_EQ(t.kind, RedisTarget::Kind::direct);
  ASSERT_EQ(t.servers.size(), 1u);
  EXPECT_EQ(t.servers[0], (redis::HostPort{"10.0.0.5", 6380}));
  EXPECT_EQ(t.db, 2u);
  EXPECT_EQ(t.str(), "redis://10.0.0.5:6380/2");

  t = parsed("redis://redis.internal");
  EXPECT_EQ(t.servers[0], (redis::HostPort{"redis.internal", kRedisPort}));
  EXPECT_EQ(t.db, 0u);
  EXPECT_EQ(t.str(), "redis://redis.internal:6379/0");
  EXPECT_EQ(parsed("redis://h:1/").db, 0u);

  t = parsed("redis://[::1]:7000/15");
  EXPECT_EQ(t.servers[0], (redis::HostPort{"::1", 7000}));
  EXPECT_EQ(t.db, 15u);
  EXPECT_EQ(t.str(), "redis://[::1]:7000/15");
  EXPECT_EQ(parsed("redis://[::1]").servers[0].port, kRedisPort);
}

TEST(PeerStoreSpec, Sentinel) {
  RedisTarget t = parsed("redis-sentinel://s1:26379,s2,[fd00::3]:5000/shoal-main");
  EXPECT_EQ(t.kind, RedisTarget::Kind::sentinel);
  ASSERT_EQ(t.servers.size(), 3u);
  EXPECT_EQ(t.servers[0], (redis::HostPort{"s1", 26379}));
  EXPECT_EQ(t.servers[1], (redis::HostPort{"s2", kSentinelPort}));
  EXPECT_EQ(t.servers[2], (redis::HostPort{"fd00::3", 5000}));
  EXPECT_EQ(t.master_name, "shoal-main");
  EXPECT_EQ(t.db, 0u);
  EXPECT_EQ(t.str(), "redis-sentinel://s1:26379,s2:26379,[fd00::3]:5000/shoal-main");

  t = parsed("redis-sentinel://127.0.0.1:1/m/3");
  EXPECT_EQ(t.master_name, "m");
  EXPECT_EQ(t.db, 3u);
  EXPECT_EQ(t.str(), "redis-sentinel://127.0.0.1:1/m/3");
}

TEST(PeerStoreSpec, BadValuesSayWhatIsWrong) {
  EXPECT_EQ(refusal("redis"), "expected memory, redis://HOST:PORT/DB or "
                              "redis-sentinel://HOST:PORT,HOST:PORT/MASTER");
  EXPECT_EQ(refusal(""), refusal("redis"));
  EXPECT_EQ(refusal("Memory"), refusal("redis"));
  EXPECT_EQ(refusal("http://h:1"), refusal("redis"));
  EXPECT_EQ(refusal("redis://"), "missing host");
  EXPECT_EQ(refusal("redis://:6379"), "missing host in \":6379\"");
  EXPECT_EQ(refusal("redis://h:0"), "invalid port \"0\": expected 1 to 65535");
  EXPECT_EQ(refusal("redis://h:65536"), "invalid port \"65536\": expected 1 to 65535");
  EXPECT_EQ(refusal("redis://h:x"), "invalid port \"x\": expected 1 to 65535");
  EXPECT_EQ(refusal("redis://h:"), "missing port in \"h:\"");
  EXPECT_EQ(refusal("redis://h/x"),
            "invalid database \"x\": expected a number from 0 to " + std::to_string(kMaxRedisDb));
  EXPECT_EQ(refusal("redis://h/-1"),
            "invalid database \"-1\": expected a number from 0 to " + std::to_string(kMaxRedisDb));
  EXPECT_EQ(refusal("redis://h/1/2"),
            "expected redis://HOST[:PORT][/DB], got more path after the database");
  EXPECT_EQ(refusal("redis://a,b"),
            "redis:// names one server; for several Sentinels use redis-sentinel://");
  EXPECT_EQ(refusal("redis://:secret@h"),
            "credentials (user:password@) are not supported; protect Redis by network");
  EXPECT_EQ(refusal("redis://h?db=1"), "query strings and fragments are not supported");
  EXPECT_EQ(refusal("redis://::1"), "an IPv6 address needs brackets: \"[::1]\"");
  EXPECT_EQ(refusal("redis://[::1"), "unterminated IPv6 literal in \"[::1\"");
  EXPECT_EQ(refusal("redis://[::1]x"), "junk after IPv6 literal in \"[::1]x\"");
  EXPECT_EQ(refusal("redis://h st"), "invalid character in host \"h st\"");
  EXPECT_EQ(refusal("redis-sentinel://s1,s2"),
            "missing master name: expected redis-sentinel://HOST:PORT,.../MASTER");
  EXPECT_EQ(refusal("redis-sentinel://s1/"), refusal("redis-sentinel://s1,s2"));
  EXPECT_EQ(refusal("redis-sentinel:///m"), "missing Sentinel addresses");
  EXPECT_EQ(refusal("redis-sentinel://s1,,s2/m"), "missing host");
  EXPECT_EQ(refusal("redis-sentinel://s1/m a"), "invalid character in master name \"m a\"");
  EXPECT_EQ(refusal("redis-sentinel://s1/m/1/2"),
            "expected redis-sentinel://HOST:PORT,.../MASTER[/DB], got more path");
}

TEST(RedisProtocol, EncodesBinarySafeCommands) {
  EXPECT_EQ(redis::encode_command({"PING"}), "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(redis::encode_command({"SET", "k", ""}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
  std::string raw("a\r\n\0b", 5);
  std::vector<std::string> args{"HSET", "h", raw, "v"};
  static const char kWant[] = "*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$5\r\na\r\n\0b\r\n$1\r\nv\r\n";
  EXPECT_EQ(redis::encode_command(args), std::string(kWant, sizeof kWant - 1));
}

TEST(RedisProtocol, ReadsPipelinedRepliesFedInPieces) {
  redis::ReplyReader reader;
  static const char kWire[] =
      "+OK\r\n:42\r\n$-1\r\n-NOSCRIPT No matching script.\r\n"
      "*3\r\n:0\r\n$3\r\na\0b\r\n*1\r\n$0\r\n\r\n";
  const std::string bytes(kWire, sizeof kWire - 1);
  std::vector<Reply> got;
  for (char c : bytes) {  // one byte at a time: every split point
    ASSERT_TRUE(reader.feed(&c, 1).ok());
    for (;;) {
      auto next = reader.next();
      ASSERT_TRUE(next.ok());
      if (!*next) break;
      got.push_back(std::move(**next));
    }
  }
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].type, Reply::Type::status);
  EXPECT_EQ(got[0].str, "OK");
  EXPECT_EQ(got[1].type, Reply::Type::integer);
  EXPECT_EQ(got[1].integer, 42);
  EXPECT_EQ(got[2].type, Reply::Type::nil);
  EXPECT_TRUE(got[3].is_error());
  EXPECT_EQ(got[3].error_code(), "NOSCRIPT");
  EXPECT_EQ(got[4].type, Reply::Type::array);
  ASSERT_EQ(got[4].elements.size(), 3u);
  EXPECT_EQ(got[4].elements[1].str, std::string("a\0b", 3));
  EXPECT_EQ(got[4].elements[2].elements[0].str, "");
  EXPECT_EQ(got[0].error_code(), "") << "only errors have a code";
}

TEST(RedisProtocol, MalformedStreamIsAProtocolError) {
  redis::ReplyReader reader;
  ASSERT_TRUE(reader.feed("?what\r\n", 7).ok());
  auto next = reader.next();
  ASSERT_FALSE(next.ok());
  EXPECT_TRUE(next.error().is(Errc::protocol_error));
}

TEST(RedisProtocol, HugeArrayHeadersAreRefusedNotAllocated) {
  // hiredis's own reply objects would allocate 8 GB of pointers for this header.
  redis::ReplyReader reader;
  const std::string huge = "*999999999\r\n:1\r\n";
  ASSERT_TRUE(reader.feed(huge.data(), huge.size()).ok());
  auto next = reader.next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().message, "redis reply: an array of 999999999 elements is over the limit");

  redis::ReplyReader nested;  // a promise below the limit costs only what arrives
  const std::string promise = "*2\r\n*4000000\r\n:7\r\n";
  ASSERT_TRUE(nested.feed(promise.data(), promise.size()).ok());
  auto partial = nested.next();
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(*partial);
}

TEST(RedisProtocol, NestedArraysKeepTheirOrder) {
  redis::ReplyReader reader;
  static const char kWire[] = "*3\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n*0\r\n";
  ASSERT_TRUE(reader.feed(kWire, sizeof kWire - 1).ok());
  auto next = reader.next();
  ASSERT_TRUE(next.ok() && *next);
  const Reply& r = **next;
  ASSERT_EQ(r.elements.size(), 3u);
  ASSERT_EQ(r.elements[0].elements.size(), 2u);
  EXPECT_EQ(r.elements[0].elements[0].integer, 1);
  EXPECT_EQ(r.elements[0].elements[1].elements[0].str, "x");
  EXPECT_EQ(r.elements[1].type, Reply::Type::nil);
  EXPECT_EQ(r.elements[2].type, Reply::Type::array);
  EXPECT_TRUE(r.elements[2].elements.empty());
}

Reply error_reply(std::string text) {
  Reply r;
  r.type = Reply::Type::error;
  r.str = std::move(text);
  return r;
}

Reply string_reply(std::string text) {
  Reply r;
  r.type = Reply::Type::string;
  r.str = std::move(text);
  return r;
}

Reply array_of(std::vector<Reply> elements) {
  Reply r;
  r.type = Reply::Type::array;
  r.elements = std::move(elements);
  return r;
}

TEST(RedisProtocol, ClassifiesErrorReplies) {
  using redis::ReplyFault;
  EXPECT_EQ(redis::classify(string_reply("x")), ReplyFault::none);
  EXPECT_EQ(redis::classify(error_reply("READONLY You can't write against a read only replica.")),
            ReplyFault::failover);
  EXPECT_EQ(redis::classify(error_reply("MASTERDOWN Link with MASTER is down")),
            ReplyFault::failover);
  EXPECT_EQ(redis::classify(error_reply("ERR Error running script (call to f_1): @user_script:9: "
                                        "-READONLY You can't write against a read only replica.")),
            ReplyFault::failover);
  EXPECT_EQ(redis::classify(error_reply("LOADING Redis is loading the dataset in memory")),
            ReplyFault::busy);
  EXPECT_EQ(redis::classify(error_reply("OOM command not allowed when used memory > 'maxmemory'.")),
            ReplyFault::full);
  EXPECT_EQ(redis::classify(error_reply("ERR DB index is out of range")), ReplyFault::other);
}

TEST(RedisProtocol, SentinelAndRoleReplies) {
  auto addr =
      redis::parse_master_address(array_of({string_reply("10.1.2.3"), string_reply("6379")}));
  ASSERT_TRUE(addr);
  EXPECT_EQ(*addr, (redis::HostPort{"10.1.2.3", 6379}));
  EXPECT_EQ(addr->str(), "10.1.2.3:6379");
  EXPECT_EQ((redis::HostPort{"::1", 1}).str(), "[::1]:1");
  EXPECT_FALSE(redis::parse_master_address(Reply{}));  // nil: unknown master
  EXPECT_FALSE(redis::parse_master_address(array_of({string_reply("h"), string_reply("0")})));
  EXPECT_FALSE(redis::parse_master_address(array_of({string_reply("h"), string_reply("99999")})));
  EXPECT_FALSE(redis::parse_master_address(array_of({string_reply(""), string_reply("1")})));
  EXPECT_FALSE(redis::parse_master_address(array_of({string_reply("h")})));
  EXPECT_FALSE(redis::parse_master_address(error_reply("ERR no such master")));

  Reply offset;
  offset.type = Reply::Type::integer;
  EXPECT_TRUE(redis::role_is_master(array_of({string_reply("master"), offset, array_of({})})));
  EXPECT_FALSE(redis::role_is_master(array_of({string_reply("slave"), string_reply("h")})));
  EXPECT_FALSE(redis::role_is_master(array_of({string_reply("sentinel"), array_of({})})));
  EXPECT_FALSE(redis::role_is_master(error_reply("ERR unknown command 'ROLE'")));
}

PeerEntry full_entry() {
  PeerEntry e;
  e.peer_id = std::string("-SHP0100-\0\xff\r\nabcdefg", 20);
  e.ipv4 = std::string("\x0a\x00\x00\x01", 4);
  e.ipv6 = std::string(15, '\0') + "\x01";
  e.port = 65535;
  e.complete = true;
  e.is_origin = true;
  e.have = std::string("\xff\x80\x00", 3);
  return e;
}

TEST(RedisEntry, RoundTripsEveryField) {
  PeerEntry e = full_entry();
  auto bytes = encode_entry(e);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(decode_entry(*bytes), e);

  PeerEntry minimal;
  minimal.peer_id = std::string(20, 'x');
  minimal.ipv4 = std::string("\x7f\x00\x00\x01", 4);
  minimal.port = 1;
  bytes = encode_entry(minimal);
  ASSERT_TRUE(bytes);
  std::string want("\x01\x00\x00\x01\x14", 5);  // version, flags, port, peer_id length
  want += std::string(20, 'x');
  want += std::string("\x04\x7f\x00\x00\x01" "\x00" "\x00\x00\x00\x00", 10);
  EXPECT_EQ(*bytes, want);
  EXPECT_EQ(decode_entry(*bytes), minimal);

  for (bool complete : {false, true}) {
    for (bool origin : {false, true}) {
      PeerEntry f = minimal;
      f.complete = complete;
      f.is_origin = origin;
      f.ipv4.clear();
      f.ipv6 = std::string(16, '\x20');
      f.have = std::string(4096, '\x55');
      EXPECT_EQ(decode_entry(*encode_entry(f)), f);
    }
  }
}

TEST(RedisEntry, RefusesWhatItCannotHold) {
  PeerEntry e = full_entry();
  e.ipv4 = "abc";
  EXPECT_FALSE(encode_entry(e));
  e = full_entry();
  e.ipv6 = std::string(4, 'x');
  EXPECT_FALSE(encode_entry(e));
  e = full_entry();
  e.peer_id = std::string(256, 'p');
  EXPECT_FALSE(encode_entry(e));
}

TEST(RedisEntry, DecodesNothingButExactEncodings) {
  std::string good = *encode_entry(full_entry());
  EXPECT_FALSE(decode_entry(""));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(decode_entry(good.substr(0, n))) << "truncated to " << n;
  }
  EXPECT_FALSE(decode_entry(good + "x")) << "trailing byte";
  std::string v2 = good;
  v2[0] = 2;
  EXPECT_FALSE(decode_entry(v2)) << "another version";
  std::string flags = good;
  flags[1] = 4;
  EXPECT_FALSE(decode_entry(flags)) << "unknown flag";
  // peer_id length 0, then ipv4 length 3 with three bytes: not an address.
  std::string odd_v4("\x01\x00\x00\x01\x00\x03" "abc" "\x00" "\x00\x00\x00\x00", 14);
  EXPECT_FALSE(decode_entry(odd_v4));
  std::string huge_have = std::string("\x01\x00\x00\x01\x00\x00\x00" "\xff\xff\xff\xff", 11);
  EXPECT_FALSE(decode_entry(huge_have));
}

TEST(RedisKeys, OneHashTagPerSwarm) {
  std::string ih("\x00\x01\xab\xff", 4);
  ih += std::string(16, '\x10');
  SwarmKeys k = swarm_keys("shoal:swarm:", ih);
  const std::string base = "shoal:swarm:{0001abff10101010101010101010101010101010}:";
  EXPECT_EQ(k.peers, base + "peers");
  EXPECT_EQ(k.expiry, base + "expiry");
  EXPECT_EQ(k.seeders, base + "seeders");
  EXPECT_EQ(k.downloaded, base + "downloaded");
}

TEST(RedisScripts, Sha1IsWhatRedisNamesScriptsBy) {
  // SCRIPT LOAD "return 1" answers this digest.
  EXPECT_EQ(sha1_hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

// -- against a real redis-server -------------------------------------------------------

uint16_t free_tcp_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// Runs one store operation to completion on an io_context of its own.
template <class T>
T run(awaitable<T> op) {
  asio::io_context ioc;
  std::optional<T> out;
  asio::co_spawn(ioc, [&]() -> awaitable<void> { out.emplace(co_await std::move(op)); },
                 asio::detached);
  ioc.run();
  return std::move(*out);
}

class RedisPeerStoreLive : public ::testing::Test {
 protected:
  void SetUp() override {
    SHOAL_REQUIRE_TOOL("redis-server", "redis-server");
    port_ = free_tcp_port();
    std::string log = (dir_.path() / "redis.log").string();
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_), "--bind",
                                     "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                     dir_.path().string(), "--logfile", log};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ASSERT_GT(pid_, 0);
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      asio::io_context ioc;
      tcp::socket s(ioc);
      beast::error_code ec;
      s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
      if (!ec) break;
      ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "redis-server did not start";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  RedisStoreOptions options(size_t max_swarm_peers = 100) const {
    RedisStoreOptions o;
    o.target = **parse_peer_store("redis://127.0.0.1:" + std::to_string(port_) + "/5");
    o.ttl = std::chrono::seconds(30);
    o.max_swarm_peers = max_swarm_peers;
    return o;
  }

  test::TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

PeerEntry with_id(PeerEntry e, char c) {
  e.peer_id = std::string(20, c);
  return e;
}

TEST_F(RedisPeerStoreLive, EveryFieldGoesThroughRedisAndBack) {
  RedisPeerStore store(options());
  const std::string swarm(20, '\x42');
  const PeerEntry seeder = full_entry();
  PeerEntry leecher = with_id(full_entry(), 'l');
  leecher.complete = false;
  leecher.is_origin = false;
  leecher.ipv4.clear();
  leecher.have = std::string(300, '\x0f');

  auto first = run(store.announce(swarm, seeder, AnnounceEvent::started, {}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, std::vector<PeerEntry>{seeder}) << "the announcer is in its own answer";
  auto second = run(store.announce(swarm, leecher, AnnounceEvent::completed, {}));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->size(), 2u);

  auto peers = run(store.peers(swarm, {}));
  ASSERT_TRUE(peers.ok()) << peers.error().message;
  ASSERT_EQ(peers->size(), 2u);
  bool saw_seeder = false;
  bool saw_leecher = false;
  for (const PeerEntry& p : *peers) {
    saw_seeder = saw_seeder || p == seeder;
    saw_leecher = saw_leecher || p == leecher;
  }
  EXPECT_TRUE(saw_seeder && saw_leecher);
  EXPECT_EQ(*run(store.counts(swarm, {})), (SwarmCounts{1, 1, 1}));

  auto after = run(store.announce(swarm, seeder, AnnounceEvent::stopped, {}));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, std::vector<PeerEntry>{leecher});
  EXPECT_EQ(*run(store.counts(swarm, {})), (SwarmCounts{0, 1, 1}));
  EXPECT_TRUE(run(store.peers(std::string(20, 'z'), {}))->empty());
  EXPECT_EQ(*run(store.counts(std::string(20, 'z'), {})), (SwarmCounts{0, 0, 0}));
}

TEST_F(RedisPeerStoreLive, FullSwarmRefusesNewPeersOnly) {
  RedisPeerStore store(options(2));
  const std::string swarm(20, 's');
  ASSERT_TRUE(run(store.announce(swarm, with_id(full_entry(), '1'), AnnounceEvent::none, {})).ok());
  ASSERT_TRUE(run(store.announce(swarm, with_id(full_entry(), '2'), AnnounceEvent::none, {})).ok());
  auto third = run(store.announce(swarm, with_id(full_entry(), '3'), AnnounceEvent::none, {}));
  ASSERT_FALSE(third.ok());
  EXPECT_TRUE(third.error().is(Errc::too_large));
  EXPECT_EQ(third.error().message, "swarm is full (2 peers)");
  EXPECT_TRUE(run(store.announce(swarm, with_id(full_entry(), '1'), AnnounceEvent::none, {})).ok());
}

TEST_F(RedisPeerStoreLive, UnreachableIsUnavailableAtOnce) {
  RedisStoreOptions o = options();
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  RedisPeerStore store(o);
  auto start = std::chrono::steady_clock::now();
  auto r = run(store.announce(std::string(20, 'u'), full_entry(), AnnounceEvent::none, {}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(Errc::unavailable));
  EXPECT_EQ(r.error().message.rfind("peer store unavailable: redis 127.0.0.1:", 0), 0u)
      << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace shoal::tracker
