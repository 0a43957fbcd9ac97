#include "core/torrent/metainfo.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal {
namespace {

namespace fs = std::filesystem;
namespace lt = libtorrent;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void write_file(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good());
}

Metainfo build(const std::string& data, const Digest& d, const MetainfoOptions& opt = {}) {
  MetainfoBuilder b;
  b.update(data.data(), data.size());
  auto m = b.finish(d, opt);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? std::move(*m) : Metainfo{};
}

lt::torrent_info load(const std::string& bencoded) {
  return lt::torrent_info(
      lt::span<const char>(bencoded.data(), static_cast<std::ptrdiff_t>(bencoded.size())),
      lt::from_span);
}

// Makes a .torrent for the file <dir>/<name> with libtorrent's own file hashing.
std::string libtorrent_made(const fs::path& dir, const std::string& name, int piece_size,
                            lt::create_flags_t flags) {
  lt::file_storage files;
  lt::add_files(files, (dir / name).string());
  lt::create_torrent ct(files, piece_size, flags);
  lt::error_code ec;
  lt::set_piece_hashes(ct, dir.string(), ec);
  EXPECT_FALSE(ec) << ec.message();
  std::string out;
  lt::bencode(std::back_inserter(out), ct.generate());
  return out;
}

TEST(Metainfo, PieceSizeTableBoundaries) {
  EXPECT_EQ(piece_size_for(0), 256 * KiB);
  EXPECT_EQ(piece_size_for(1), 256 * KiB);
  EXPECT_EQ(piece_size_for(512 * MiB), 256 * KiB);
  EXPECT_EQ(piece_size_for(512 * MiB + 1), 512 * KiB);
  EXPECT_EQ(piece_size_for(1 * GiB), 512 * KiB);
  EXPECT_EQ(piece_size_for(1 * GiB + 1), 1 * MiB);
  EXPECT_EQ(piece_size_for(2 * GiB), 1 * MiB);
  EXPECT_EQ(piece_size_for(2 * GiB + 1), 2 * MiB);
  EXPECT_EQ(piece_size_for(4 * GiB), 2 * MiB);
  EXPECT_EQ(piece_size_for(4 * GiB + 1), 4 * MiB);
  EXPECT_EQ(piece_size_for(8 * GiB), 4 * MiB);
  EXPECT_EQ(piece_size_for(8 * GiB + 1), 8 * MiB);
  EXPECT_EQ(piece_size_for(16 * GiB), 8 * MiB);
  EXPECT_EQ(piece_size_for(16 * GiB + 1), 16 * MiB);
  EXPECT_EQ(piece_size_for(1024 * GiB), 16 * MiB);
  EXPECT_EQ(piece_size_for(UINT64_MAX), 16 * MiB);
  // Everywhere in the unclamped range the count stays within (1024, 2048].
  for (uint64_t size = 512 * MiB + 1; size <= 32 * GiB; size += 97 * MiB + 12345) {
    uint64_t ps = piece_size_for(size);
    uint64_t pieces = (size + ps - 1) / ps;
    EXPECT_GT(pieces, 1024u) << size;
    EXPECT_LE(pieces, 2048u) << size;
  }
}

TEST(Metainfo, EmptyBlobHasNoMetainfo) {
  MetainfoBuilder b;
  auto m = b.finish(Sha256::of("", 0));
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.error().is(Errc::bad_request));
}

TEST(Metainfo, RejectsBadPieceSizeOption) {
  MetainfoBuilder b;
  b.update("x", 1);
  MetainfoOptions opt;
  opt.piece_size = 64 * KiB;
  EXPECT_FALSE(b.finish(Sha256::of("x", 1), opt).ok());
}

TEST(Metainfo, BytesAndFileAndChunkingGiveIdenticalMetainfo) {
  test::TempDir dir;
  std::string data = random_bytes(3 * MiB + 777, 1);
  Digest d = Sha256::of(data.data(), data.size());
  write_file(dir.path() / "blob", data);

  MetainfoBuilder hybrid(data.size(), 0);
  hybrid.update(data.data(), data.size());
  auto made = hybrid.finish(d);
  ASSERT_TRUE(made.ok()) << made.error().message;
  Metainfo whole = std::move(*made);
  auto from_file = metainfo_from_file((dir.path() / "blob").string(), d);
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(whole.bencoded, from_file->bencoded);
  EXPECT_EQ(whole.info_hash, from_file->info_hash);
  EXPECT_TRUE(load(whole.bencoded).v1() && load(whole.bencoded).v2());  // hybrid
  EXPECT_FALSE(load(build(data, d).bencoded).v1());  // the size-less builder: v2 only

  MetainfoBuilder odd(data.size(), 0);  // chunks that straddle block and granule boundaries
  std::mt19937 rng(7);
  for (size_t off = 0; off < data.size();) {
    size_t n = std::min<size_t>(data.size() - off, rng() % 40000);
    odd.update(data.data() + off, n);
    off += n;
  }
  auto chunked = odd.finish(d);
  ASSERT_TRUE(chunked.ok());
  EXPECT_EQ(whole.bencoded, chunked->bencoded);

  EXPECT_EQ(odd.size(), 0u);  // finish() leaves the builder empty and reusable
  odd.update(data.data(), data.size());
  auto again = odd.finish(d);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(whole.bencoded, again->bencoded);

  EXPECT_EQ(whole.size, data.size());
  EXPECT_EQ(whole.piece_size, 256 * KiB);
  EXPECT_EQ(whole.piece_count, 13u);
  EXPECT_EQ(whole.digest, d);
  EXPECT_EQ(0, std::memcmp(whole.announced_hash.data(), whole.info_hash.data(), 20));
}

TEST(Metainfo, MissingFileIsAnError) {
  auto m = metainfo_from_file("/nonexistent/shoal-blob", Sha256::of("x", 1));
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.error().is(Errc::io_error));
}

// Sizes around every padding rule: one short block, blocks below a power of two,
// exactly one granule, exactly one piece, many pieces with a short last one; and a
// piece size above the 256 KiB granule so granules are folded into pieces.
struct SizeCase {
  uint64_t size;
  uint32_t piece_size;  // 0 = table
};
const SizeCase kSizes[] = {
    {1, 0},           {16 * KiB, 0},        {20 * KiB, 0},         {100 * KiB, 0},
    {256 * KiB, 0},   {256 * KiB + 1, 0},   {600 * KiB + 5, 0},    {2 * MiB, 0},
    {300 * KiB, 1 * MiB}, {1 * MiB, 1 * MiB}, {3 * MiB + 16 * KiB + 3, 1 * MiB},
    {5 * MiB + 1, 2 * MiB},
};

TEST(Metainfo, LibtorrentLoadsItAndAgreesWithItsOwnHashing) {
  test::TempDir dir;
  uint32_t seed = 100;
  for (const auto& c : kSizes) {
    SCOPED_TRACE("size " + std::to_string(c.size) + " piece " + std::to_string(c.piece_size));
    std::string data = random_bytes(c.size, seed++);
    Digest d = Sha256::of(data.data(), data.size());
    MetainfoOptions opt;
    opt.piece_size = c.piece_size;
    Metainfo m = build(data, d, opt);
    ASSERT_FALSE(m.bencoded.empty());

    lt::torrent_info ti = load(m.bencoded);
    EXPECT_TRUE(ti.v2());
    EXPECT_FALSE(ti.v1());
    // One real file; libtorrent itself appends a pad file up to the piece boundary.
    int real_files = 0;
    for (auto f : ti.files().file_range()) real_files += ti.files().pad_file_at(f) ? 0 : 1;
    EXPECT_EQ(real_files, 1);
    EXPECT_EQ(ti.name(), d.hex());
    EXPECT_EQ(ti.files().file_path(lt::file_index_t(0)), d.hex());
    EXPECT_EQ(static_cast<uint64_t>(ti.files().file_size(lt::file_index_t(0))), c.size);
    uint32_t ps = c.piece_size != 0 ? c.piece_size : piece_size_for(c.size);
    EXPECT_EQ(static_cast<uint32_t>(ti.piece_length()), ps);
    EXPECT_EQ(static_cast<uint64_t>(ti.num_pieces()), (c.size + ps - 1) / ps);
    EXPECT_EQ(m.piece_count, static_cast<uint32_t>(ti.num_pieces()));
    ASSERT_TRUE(ti.info_hashes().has_v2());
    EXPECT_EQ(0, std::memcmp(ti.info_hashes().v2.data(), m.info_hash.data(), 32));

    // libtorrent hashing the same file with the same piece size gets the same
    // pieces root and, since the info dicts match, the same info-hash.
    write_file(dir.path() / d.hex(), data);
    std::string theirs = libtorrent_made(dir.path(), d.hex(), static_cast<int>(ps),
                                         lt::create_torrent::v2_only);
    lt::torrent_info their_ti = load(theirs);
    EXPECT_EQ(their_ti.files().root(lt::file_index_t(0)), ti.files().root(lt::file_index_t(0)));
    EXPECT_EQ(their_ti.info_hashes().v2, ti.info_hashes().v2);
    fs::remove(dir.path() / d.hex());
  }
}

TEST(Metainfo, ParseAndBindAcceptsItsOwn) {
  std::string data = random_bytes(700 * KiB, 3);
  Digest d = Sha256::of(data.data(), data.size());
  Metainfo m = build(data, d);
  auto p = parse_and_bind(m.bencoded, d, data.size());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->info_hash, m.info_hash);
  EXPECT_EQ(p->announced_hash, m.announced_hash);
  EXPECT_EQ(p->pieces_root, m.pieces_root);
  EXPECT_EQ(p->piece_count, 3u);
  EXPECT_EQ(p->piece_size, 256 * KiB);
  EXPECT_EQ(p->size, data.size());
  EXPECT_TRUE(parse_and_bind(m.bencoded, d).ok());  // size unchecked when not given
}

TEST(Metainfo, ParseAndBindRejectsAnotherDigest) {
  std::string data = random_bytes(50 * KiB, 4);
  Digest d = Sha256::of(data.data(), data.size());
  Metainfo m = build(data, d);
  auto p = parse_and_bind(m.bencoded, Sha256::of("other", 5));
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.error().is(Errc::digest_mismatch)) << p.error().message;
}

TEST(Metainfo, ParseAndBindRejectsSizeMismatch) {
  std::string data = random_bytes(50 * KiB, 5);
  Digest d = Sha256::of(data.data(), data.size());
  Metainfo m = build(data, d);
  auto p = parse_and_bind(m.bencoded, d, data.size() + 1);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.error().is(Errc::digest_mismatch)) << p.error().message;
}

TEST(Metainfo, ParseAndBindRejectsMalformedInputWithoutCrashing) {
  std::string data = random_bytes(900 * KiB, 6);
  Digest d = Sha256::of(data.data(), data.size());
  Metainfo m = build(data, d);
  // Every truncation, a sample of single-byte corruptions, and plain garbage.
  for (size_t n = 0; n < m.bencoded.size(); n += (n < 400 ? 1 : 97)) {
    auto p = parse_and_bind(std::string_view(m.bencoded).substr(0, n), d);
    EXPECT_FALSE(p.ok()) << n;
  }
  std::mt19937 rng(9);
  for (int i = 0; i < 300; ++i) {
    std::string bad = m.bencoded;
    bad[rng() % bad.size()] = static_cast<char>(rng());
    auto p = parse_and_bind(bad, d);  // may or may not parse; must not crash or lie
    if (p.ok()) {
      EXPECT_EQ(p->size, data.size());
    }
  }
  for (const char* junk : {"", "x", "de", "le", "d4:infoi1ee", "d4:infod4:name64:", "i-0e",
                           "d4:infod12:piece lengthi0e4:name1:aee"}) {
    EXPECT_FALSE(parse_and_bind(junk, d).ok()) << junk;
  }
  std::string huge(kMaxMetainfoBytes + 1, 'd');
  EXPECT_FALSE(parse_and_bind(huge, d).ok());
}

TEST(Metainfo, ParseAndBindRejectsTamperedPieceLayer) {
  std::string data = random_bytes(900 * KiB, 8);
  Digest d = Sha256::of(data.data(), data.size());
  Metainfo m = build(data, d);
  // The piece layer is the value of "piece layers" -> {root: 4 * 32 bytes}.
  size_t at = m.bencoded.find("12:piece layers");
  ASSERT_NE(at, std::string::npos);
  size_t layer = m.bencoded.find("128:", at);
  ASSERT_NE(layer, std::string::npos);
  std::string bad = m.bencoded;
  bad[layer + 4 + 40] ^= 0x01;
  auto p = parse_and_bind(bad, d);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.error().is(Errc::protocol_error)) << p.error().message;

  // Without its piece layer a multi-piece metainfo is refused too.
  lt::entry e(lt::bdecode(lt::span<const char>(m.bencoded.data(),
                                               static_cast<std::ptrdiff_t>(m.bencoded.size()))));
  e.dict().erase("piece layers");
  std::string stripped;
  lt::bencode(std::back_inserter(stripped), e);
  ASSERT_TRUE(load(stripped).is_valid());
  p = parse_and_bind(stripped, d);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.error().is(Errc::protocol_error)) << p.error().message;
}

TEST(Metainfo, ParseAndBindRejectsV1OnlyAndAcceptsHybridTorrents) {
  test::TempDir dir;
  std::string data = random_bytes(600 * KiB, 10);
  Digest d = Sha256::of(data.data(), data.size());
  write_file(dir.path() / d.hex(), data);
  std::string v1_only =
      libtorrent_made(dir.path(), d.hex(), 256 * KiB, lt::create_torrent::v1_only);
  ASSERT_TRUE(load(v1_only).v1());
  auto p = parse_and_bind(v1_only, d);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.error().is(Errc::protocol_error)) << p.error().message;
  std::string hybrid = libtorrent_made(dir.path(), d.hex(), 256 * KiB, lt::create_flags_t{});
  auto h = parse_and_bind(hybrid, d);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->piece_count, 3u);
  EXPECT_EQ(h->piece_hashes.size(), 3u);
  // Hand-written v1 single-file bencoding, named right, one SHA-1 piece.
  std::string name = d.hex();
  std::string v1 = "d4:infod6:lengthi5e4:name64:" + name + "12:piece lengthi16384e6:pieces20:" +
                   std::string(20, 'a') + "ee";
  ASSERT_TRUE(load(v1).is_valid());
  EXPECT_FALSE(parse_and_bind(v1, d).ok());
}

// libtorrent checks files on disk against the metainfo: returns whether the torrent
// ends up complete, and how many pieces passed.
std::pair<bool, int> libtorrent_check(const std::string& bencoded, const fs::path& save_path) {
  lt::settings_pack sp;
  sp.set_str(lt::settings_pack::listen_interfaces, "127.0.0.1:0");
  sp.set_bool(lt::settings_pack::enable_dht, false);
  sp.set_bool(lt::settings_pack::enable_lsd, false);
  sp.set_bool(lt::settings_pack::enable_upnp, false);
  sp.set_bool(lt::settings_pack::enable_natpmp, false);
  sp.set_int(lt::settings_pack::alert_mask,
             lt::alert_category::status | lt::alert_category::error | lt::alert_category::storage);
  lt::session ses{lt::session_params(sp)};
  lt::add_torrent_params atp;
  atp.ti = std::make_shared<lt::torrent_info>(load(bencoded));
  atp.save_path = save_path.string();
  atp.flags &= ~(lt::torrent_flags::auto_managed | lt::torrent_flags::paused |
                 lt::torrent_flags::seed_mode);
  lt::torrent_handle h = ses.add_torrent(atp);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool checked = false;
  while (!checked && std::chrono::steady_clock::now() < deadline) {
    ses.wait_for_alert(std::chrono::milliseconds(100));
    std::vector<lt::alert*> alerts;
    ses.pop_alerts(&alerts);
    for (lt::alert* a : alerts) {
      if (lt::alert_cast<lt::torrent_checked_alert>(a)) checked = true;
      if (auto* e = lt::alert_cast<lt::torrent_error_alert>(a)) ADD_FAILURE() << e->message();
    }
  }
  EXPECT_TRUE(checked) << "libtorrent did not finish checking within 10 s";
  lt::torrent_status st = h.status();
  return {st.is_seeding, st.num_pieces};
}

TEST(Metainfo, LibtorrentVerifiesTheDataAndRejectsACorruptCopy) {
  for (const auto& c : {SizeCase{100 * KiB, 0}, SizeCase{1 * MiB + 5000, 0},
                        SizeCase{3 * MiB + 16 * KiB + 3, 1 * MiB}}) {
    SCOPED_TRACE("size " + std::to_string(c.size));
    test::TempDir good;
    test::TempDir bad;
    std::string data = random_bytes(c.size, 20);
    Digest d = Sha256::of(data.data(), data.size());
    MetainfoOptions opt;
    opt.piece_size = c.piece_size;
    Metainfo m = build(data, d, opt);
    write_file(good.path() / d.hex(), data);
    std::string corrupt = data;
    corrupt[corrupt.size() - 1] ^= 0x5a;  // last (short) piece
    write_file(bad.path() / d.hex(), corrupt);

    auto [complete, pieces] = libtorrent_check(m.bencoded, good.path());
    EXPECT_TRUE(complete);
    EXPECT_EQ(pieces, static_cast<int>(m.piece_count));

    auto [bad_complete, bad_pieces] = libtorrent_check(m.bencoded, bad.path());
    EXPECT_FALSE(bad_complete);
    EXPECT_EQ(bad_pieces, static_cast<int>(m.piece_count) - 1);
  }
}

}  // namespace
}  // namespace shoal
