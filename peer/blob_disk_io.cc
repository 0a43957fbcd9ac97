#include "peer/blob_disk_io.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/disk_buffer_holder.hpp>
#include <libtorrent/disk_interface.hpp>
#include <libtorrent/disk_observer.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>
#include <thread>
#include <unordered_map>

#include "core/file_io.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/torrent/metainfo.h"

namespace shoal::peer {
namespace {

constexpr uint32_t kBlock = 16 * 1024;
using Leaf = std::array<uint8_t, 32>;

lt::storage_error os_error(int err, lt::operation_t op) {
  return lt::storage_error(lt::error_code(err, lt::system_category()), lt::file_index_t(0), op);
}

// 16 KiB buffers, recycled: one per block in flight, held or being sent.
class BlockPool {
 public:
  std::unique_ptr<char[]> get() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return std::make_unique<char[]>(kBlock);
    auto b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void put(std::unique_ptr<char[]> b) {
    std::lock_guard lock(mu_);
    if (free_.size() < 256) free_.push_back(std::move(b));
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<char[]>> free_;
};

// One torrent's file and hashing state; touched by the worker thread only.
struct BlobFile {
  std::string dir, name;
  uint64_t size = 0;
  uint32_t piece_size = 0;
  uint32_t pieces = 0;
  std::shared_ptr<const BlobExpect> expect;
  UniqueFd fd;
  bool seeding = false;  // added complete: nothing is written, no whole-blob hash
  // The leaves of pieces written but not yet verified: a verified piece's leaves are
  // not needed again, so memory follows the pieces in flight, not the blob's size.
  struct Leaves {
    std::vector<Leaf> leaf;
    std::vector<uint8_t> known;
  };
  std::unordered_map<uint32_t, Leaves> leaves;  // by piece
  std::vector<uint8_t> verified;       // per piece
  std::map<uint32_t, std::unique_ptr<char[]>> held;  // block index -> its bytes
  Sha256 whole;  // the WholeHasher's thread only
  uint64_t whole_end = 0;
  bool whole_done = false;

  std::string path() const { return dir + "/" + name; }
  uint64_t piece_offset(uint32_t p) const { return uint64_t{p} * piece_size; }
  uint32_t piece_bytes(uint32_t p) const {
    return static_cast<uint32_t>(std::min<uint64_t>(piece_size, size - piece_offset(p)));
  }
  uint32_t first_block(uint32_t p) const { return static_cast<uint32_t>(piece_offset(p) / kBlock); }
  uint32_t blocks_in(uint32_t p) const { return (piece_bytes(p) + kBlock - 1) / kBlock; }
  Leaves& leaves_of(uint32_t p) {
    Leaves& l = leaves[p];
    if (l.leaf.empty()) {
      l.leaf.resize(blocks_in(p));
      l.known.assign(blocks_in(p), 0);
    }
    return l;
  }
  uint32_t block_bytes(uint32_t b) const {
    return static_cast<uint32_t>(std::min<uint64_t>(kBlock, size - uint64_t{b} * kBlock));
  }
  // A download's file is created by its first write, or by a read before it; a
  // complete one (a seed, or a download once the whole blob hashed) is only read.
  bool open(lt::storage_error& se) {
    if (fd.valid()) return true;
    int flags = seeding || whole_done ? O_RDONLY : O_RDWR | O_CREAT;
    fd = UniqueFd(::open(path().c_str(), flags | O_CLOEXEC, 0644));
    if (!fd.valid()) se = os_error(errno, lt::operation_t::file_open);
    return fd.valid();
  }
};

// The whole-blob SHA-256 on a thread of its own: the disk thread writes and checks
// the next pieces while the blocks of verified ones are hashed, in blob order.
class WholeHasher {
 public:
  WholeHasher(BlockPool& pool, BlobBook& book) : pool_(pool), book_(book), thread_([this] { run(); }) {}
  ~WholeHasher() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  WholeHasher(const WholeHasher&) = delete;
  WholeHasher& operator=(const WholeHasher&) = delete;

  // The next `len` bytes of f's blob, in order; waits while 8 MiB are queued.
  void add(std::shared_ptr<BlobFile> f, std::unique_ptr<char[]> block, uint32_t len) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [this] { return queued_ < kQueued; });
    queued_ += len;
    tasks_.push_back(Task{std::move(f), std::move(block), len});
    wake_.notify_one();
  }
  // After f's last block: its digest is in the book when this returns.
  void finish(std::shared_ptr<BlobFile> f) {
    std::unique_lock lock(mu_);
    const uint64_t ticket = ++queued_tasks_;
    tasks_.push_back(Task{std::move(f), nullptr, 0});
    wake_.notify_one();
    room_.wait(lock, [&] { return done_tasks_ >= ticket; });
  }

 private:
  static constexpr uint64_t kQueued = 8 << 20;
  struct Task {
    std::shared_ptr<BlobFile> f;
    std::unique_ptr<char[]> block;  // null: the blob's end
    uint32_t len = 0;
  };

  void run() {
    pthread_setname_np(pthread_self(), "shoal-whole");
    std::unique_lock lock(mu_);
    for (;;) {
      wake_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      Task t = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      const bool last = !t.block;
      if (!last) {
        t.f->whole.update(t.block.get(), t.len);
        book_.whole_bytes += t.len;
        pool_.put(std::move(t.block));
      } else {
        book_.set_whole(t.f->name, t.f->whole.finish());
      }
      t.f.reset();
      lock.lock();
      queued_ -= t.len;
      if (last) ++done_tasks_;
      room_.notify_all();
    }
  }

  BlockPool& pool_;
  BlobBook& book_;
  std::mutex mu_;
  std::condition_variable wake_, room_;
  std::deque<Task> tasks_;
  uint64_t queued_ = 0;
  uint64_t queued_tasks_ = 0, done_tasks_ = 0;  // finish() tickets
  bool stop_ = false;
  std::thread thread_;
};

class BlobDiskIo final : public lt::disk_interface, public lt::buffer_allocator_interface {
 public:
  BlobDiskIo(lt::io_context& ioc, std::shared_ptr<BlobBook> book, BlobDiskOptions o)
      : ioc_(ioc), book_(std::move(book)), opts_(o), worker_([this] { run(); }) {}
  ~BlobDiskIo() override { abort(true); }

  lt::storage_holder new_torrent(lt::storage_params const& p,
                                 std::shared_ptr<void> const&) override {
    auto f = std::make_shared<BlobFile>();
    f->dir = p.path;
    const lt::file_index_t f0(0);
    f->name = std::string(p.files.file_name(f0));
    f->size = static_cast<uint64_t>(p.files.file_size(f0));
    f->piece_size = static_cast<uint32_t>(p.files.piece_length());
    f->pieces = f->piece_size ? static_cast<uint32_t>((f->size + f->piece_size - 1) / f->piece_size) : 0;
    f->expect = book_->expected(f->name);
    f->verified.assign(f->pieces, 0);
    std::lock_guard lock(mu_);
    const int idx = next_index_++;
    files_[idx] = std::move(f);
    return lt::storage_holder(lt::storage_index_t(idx), *this);
  }

  // Jobs queued before keep the file alive; the last to finish frees its held blocks.
  void remove_torrent(lt::storage_index_t idx) override {
    std::shared_ptr<BlobFile> f;
    {
      std::lock_guard lock(mu_);
      auto it = files_.find(static_cast<int>(idx));
      if (it == files_.end()) return;
      f = std::move(it->second);
      files_.erase(it);
    }
    submit(0, [this, f] { drop_held(*f, 0, UINT32_MAX); });
  }

  void async_read(lt::storage_index_t s, lt::peer_request const& r,
                  std::function<void(lt::disk_buffer_holder, lt::storage_error const&)> h,
                  lt::disk_job_flags_t) override {
    submit(0, [this, f = file(s), r, h = std::move(h)]() mutable { read(f, r, std::move(h)); });
  }

  bool async_write(lt::storage_index_t s, lt::peer_request const& r, char const* buf,
                   std::shared_ptr<lt::disk_observer> o,
                   std::function<void(lt::storage_error const&)> h, lt::disk_job_flags_t) override {
    auto block = pool_.get();
    const size_t len = std::min<size_t>(static_cast<size_t>(r.length), kBlock);
    std::memcpy(block.get(), buf, len);
    book_->queued_bytes += len;
    // std::function must be copyable: the block travels as a pointer, and the worker,
    // which runs every job before it stops, takes it back.
    submit(len, [this, f = file(s), r, raw = block.release(), h = std::move(h)]() mutable {
      write(f, r, std::unique_ptr<char[]>(raw), std::move(h));
    });
    if (book_->queued_bytes < opts_.queue_bytes) return false;
    std::lock_guard lock(mu_);
    if (o) observers_.push_back(std::move(o));
    return true;
  }

  void async_hash(lt::storage_index_t s, lt::piece_index_t piece, lt::span<lt::sha256_hash> v2,
                  lt::disk_job_flags_t flags,
                  std::function<void(lt::piece_index_t, lt::sha1_hash const&,
                                     lt::storage_error const&)> h) override {
    submit(0, [this, f = file(s), piece, v2, flags, h = std::move(h)] {
      hash(f, piece, v2, bool(flags & lt::disk_interface::v1_hash), h);
    });
  }

  void async_hash2(lt::storage_index_t s, lt::piece_index_t piece, int offset,
                   lt::disk_job_flags_t,
                   std::function<void(lt::piece_index_t, lt::sha256_hash const&,
                                      lt::storage_error const&)> h) override {
    submit(0, [this, f = file(s), piece, offset, h = std::move(h)] {
      lt::storage_error se;
      lt::sha256_hash out;
      if (f) {
        const uint64_t off = f->piece_offset(static_cast<uint32_t>(static_cast<int>(piece))) +
                             static_cast<uint64_t>(offset);
        if (off < f->size) {
          auto leaf = leaf_from_file(*f, static_cast<uint32_t>(off / kBlock), se);
          std::memcpy(out.data(), leaf.data(), leaf.size());
        }
      }
      done([h, piece, out, se] { h(piece, out, se); });
    });
  }

  void async_move_storage(lt::storage_index_t s, std::string p, lt::move_flags_t flags,
                          std::function<void(lt::status_t, std::string const&,
                                             lt::storage_error const&)> h) override {
    submit(0, [this, f = file(s), p = std::move(p), flags, h = std::move(h)] {
      lt::storage_error se;
      lt::status_t st = move(f, p, flags, se);
      done([h, st, p, se] { h(st, p, se); });
    });
  }

  void async_release_files(lt::storage_index_t s, std::function<void()> h) override {
    submit(0, [this, f = file(s), h = std::move(h)] {
      if (f) f->fd.reset();
      if (h) done(h);
    });
  }

  void async_check_files(lt::storage_index_t s, lt::add_torrent_params const* resume,
                         lt::aux::vector<std::string, lt::file_index_t>,
                         std::function<void(lt::status_t, lt::storage_error const&)> h) override {
    const bool seed = resume && (resume->flags & lt::torrent_flags::seed_mode);
    submit(0, [this, f = file(s), seed, h = std::move(h)] {
      lt::storage_error se;
      lt::status_t st = lt::status_t::no_error;
      if (f && seed) {
        f->seeding = true;
        struct stat sb {};
        if (::stat(f->path().c_str(), &sb) != 0) {
          se = os_error(errno, lt::operation_t::file_stat);
        } else if (static_cast<uint64_t>(sb.st_size) != f->size) {
          se = os_error(EINVAL, lt::operation_t::check_resume);
        }
        if (se) st = lt::status_t::fatal_disk_error;
      }
      done([h, st, se] { h(st, se); });
    });
  }

  void async_stop_torrent(lt::storage_index_t s, std::function<void()> h) override {
    async_release_files(s, std::move(h));
  }

  void async_rename_file(lt::storage_index_t s, lt::file_index_t idx, std::string name,
                         std::function<void(std::string const&, lt::file_index_t,
                                            lt::storage_error const&)> h) override {
    submit(0, [this, f = file(s), idx, name = std::move(name), h = std::move(h)] {
      lt::storage_error se;
      if (f) {
        f->fd.reset();
        std::string to = f->dir + "/" + name;
        if (::rename(f->path().c_str(), to.c_str()) != 0 && errno != ENOENT)
          se = os_error(errno, lt::operation_t::file_rename);
        else
          f->name = name;
      }
      done([h, name, idx, se] { h(name, idx, se); });
    });
  }

  void async_delete_files(lt::storage_index_t s, lt::remove_flags_t,
                          std::function<void(lt::storage_error const&)> h) override {
    submit(0, [this, f = file(s), h = std::move(h)] {
      lt::storage_error se;
      if (f) {
        f->fd.reset();
        if (::unlink(f->path().c_str()) != 0 && errno != ENOENT)
          se = os_error(errno, lt::operation_t::file_remove);
      }
      done([h, se] { h(se); });
    });
  }

  void async_set_file_priority(
      lt::storage_index_t, lt::aux::vector<lt::download_priority_t, lt::file_index_t> prio,
      std::function<void(lt::storage_error const&,
                         lt::aux::vector<lt::download_priority_t, lt::file_index_t>)> h) override {
    boost::asio::post(ioc_, [h = std::move(h), prio = std::move(prio)]() mutable {
      h(lt::storage_error(), std::move(prio));
    });
  }

  void async_clear_piece(lt::storage_index_t s, lt::piece_index_t piece,
                         std::function<void(lt::piece_index_t)> h) override {
    submit(0, [this, f = file(s), piece, h = std::move(h)] {
      if (f) forget_piece(*f, static_cast<uint32_t>(static_cast<int>(piece)));
      done([h, piece] { h(piece); });
    });
  }

  void update_stats_counters(lt::counters&) const override {}
  std::vector<lt::open_file_state> get_status(lt::storage_index_t) const override { return {}; }

  // Queued jobs still run (writes reach the file); their handlers may not.
  void abort(bool wait) override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (wait && worker_.joinable() && worker_.get_id() != std::this_thread::get_id())
      worker_.join();
  }
  void submit_jobs() override {}
  void settings_updated() override {}

  void free_disk_buffer(char* b) override { pool_.put(std::unique_ptr<char[]>(b)); }

 private:
  using Job = std::function<void()>;

  std::shared_ptr<BlobFile> file(lt::storage_index_t s) {
    std::lock_guard lock(mu_);
    auto it = files_.find(static_cast<int>(s));
    return it == files_.end() ? nullptr : it->second;
  }

  void submit(size_t, Job job) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
      wake = idle_;
    }
    if (wake) wake_.notify_one();
  }

  // A handler for libtorrent's network thread, posted with the others of its batch:
  // one wake-up of that thread per batch, not one per block.
  void done(Job handler) { done_.push_back(std::move(handler)); }

  void post_done() {
    if (done_.empty()) return;
    boost::asio::post(ioc_, [batch = std::move(done_)] {
      for (const auto& h : batch) h();
    });
    done_.clear();
  }

  void run() {
    // Named, so that top -H and perf tell the disk thread apart.
    pthread_setname_np(pthread_self(), "shoal-disk");
    constexpr size_t kBatch = 32;  // 512 KiB of writes: the handlers wait at most that long
    std::deque<Job> batch;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        idle_ = true;
        wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        idle_ = false;
        if (jobs_.empty()) return;
        batch.swap(jobs_);
      }
      size_t n = 0;
      for (auto& job : batch) {
        job();
        if (++n % kBatch == 0) post_done();
      }
      post_done();
      batch.clear();
    }
  }

  // Peers held back by a full queue may send again once half of it is written.
  void written(size_t len) {
    book_->queued_bytes -= len;
    if (book_->queued_bytes > opts_.queue_bytes / 2) return;
    book_->drained();
    std::vector<std::shared_ptr<lt::disk_observer>> ready;
    {
      std::lock_guard lock(mu_);
      ready.swap(observers_);
    }
    if (!ready.empty())
      done([ready] {
        for (const auto& o : ready) o->on_disk();
      });
  }

  void write(const std::shared_ptr<BlobFile>& f, lt::peer_request r, std::unique_ptr<char[]> b,
             std::function<void(lt::storage_error const&)> h) {
    const size_t queued = std::min<size_t>(static_cast<size_t>(r.length), kBlock);
    lt::storage_error se;
    if (f) se = store(*f, r, std::move(b));
    written(queued);
    done([h = std::move(h), se] { h(se); });
  }

  lt::storage_error store(BlobFile& f, lt::peer_request r, std::unique_ptr<char[]> b) {
    lt::storage_error se;
    const uint64_t off = f.piece_offset(static_cast<uint32_t>(static_cast<int>(r.piece))) +
                         static_cast<uint64_t>(r.start);
    if (off >= f.size) {  // a pad file's zeros: not part of the blob
      pool_.put(std::move(b));
      return se;
    }
    const uint32_t len = static_cast<uint32_t>(
        std::min<uint64_t>(static_cast<uint64_t>(r.length), f.size - off));
    if (!f.open(se)) return se;
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pwrite(f.fd.get(), b.get() + done, len - done, static_cast<off_t>(off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return os_error(n < 0 ? errno : EIO, lt::operation_t::file_write);
      done += static_cast<size_t>(n);
    }
    const auto block = static_cast<uint32_t>(off / kBlock);
    const auto piece = static_cast<uint32_t>(off / f.piece_size);
    BlobFile::Leaves& leaves = f.leaves_of(piece);
    leaves.leaf[block - f.first_block(piece)] = leaf_of(b.get(), len);
    leaves.known[block - f.first_block(piece)] = 1;
    const bool wanted = !f.seeding && uint64_t{block} * kBlock >= f.whole_end;
    if (wanted && (held_bytes_ + kBlock <= opts_.hold_bytes || f.held.contains(block))) {
      if (!f.held.contains(block)) held_bytes_ += kBlock;
      f.held[block] = std::move(b);
    } else {
      pool_.put(std::move(b));
    }
    return se;
  }

  Leaf leaf_of(const char* p, size_t len) {
    book_->piece_bytes += len;
    Digest d = Sha256::of(p, len);
    Leaf out;
    std::memcpy(out.data(), d.bytes().data(), out.size());
    return out;
  }

  // Reads `len` bytes of the blob at `off` for checking, counted as read back.
  bool read_back(BlobFile& f, char* out, size_t len, uint64_t off, lt::storage_error& se) {
    if (!f.open(se)) return false;
    auto n = pread_some(f.fd.get(), out, len, off);
    if (!n || *n != len) {
      se = os_error(EIO, lt::operation_t::file_read);  // short: the file is shorter than its writes
      return false;
    }
    book_->read_back_bytes += len;
    return true;
  }

  Leaf leaf_from_file(BlobFile& f, uint32_t block, lt::storage_error& se) {
    char buf[kBlock];
    const uint32_t len = f.block_bytes(block);
    if (!read_back(f, buf, len, uint64_t{block} * kBlock, se)) return Leaf{};
    return leaf_of(buf, len);
  }

  void hash(const std::shared_ptr<BlobFile>& fp, lt::piece_index_t piece,
            lt::span<lt::sha256_hash> v2, bool v1,
            const std::function<void(lt::piece_index_t, lt::sha1_hash const&,
                                     lt::storage_error const&)>& h) {
    lt::storage_error se;
    lt::sha1_hash sha1;  // all zero: matches no piece
    if (fp && fp->expect) {
      BlobFile& f = *fp;
      const auto p = static_cast<uint32_t>(static_cast<int>(piece));
      const uint32_t first = f.first_block(p);
      const uint32_t count = f.blocks_in(p);
      BlobFile::Leaves& leaves = f.leaves_of(p);
      for (uint32_t i = 0; i < count && !se; ++i) {
        if (!leaves.known[i]) {  // a seed's piece, or a block written before this session
          leaves.leaf[i] = leaf_from_file(f, first + i, se);
          leaves.known[i] = !se;
        }
      }
      for (uint32_t i = 0; i < count && i < static_cast<uint32_t>(v2.size()); ++i)
        std::memcpy(v2[static_cast<std::ptrdiff_t>(i)].data(), leaves.leaf[i].data(), 32);
      const bool ok = !se && p < f.expect->v2.size() &&
                      v2_piece_root(leaves.leaf.data(), count, f.piece_size, f.pieces == 1) ==
                          f.expect->v2[p];
      f.leaves.erase(p);  // verified, or to be written again
      if (ok) {
        if (v1 && p < f.expect->v1.size())
          std::memcpy(sha1.data(), f.expect->v1[p].data(), sha1.size());
        f.verified[p] = 1;
        if (!f.seeding) advance_whole(fp, se);
      } else {
        forget_piece(f, p);
      }
    } else if (fp) {
      log::error("no expected hashes for a torrent", {{"name", fp->name}});
    }
    done([h, piece, sha1, se] { h(piece, sha1, se); });
  }

  // Hands every verified piece's bytes from the start on, in order, to the whole-blob
  // SHA-256; the held block when there is one, else the bytes read back.
  void advance_whole(const std::shared_ptr<BlobFile>& fp, lt::storage_error& se) {
    BlobFile& f = *fp;
    while (f.whole_end < f.size && f.verified[static_cast<size_t>(f.whole_end / f.piece_size)]) {
      const auto block = static_cast<uint32_t>(f.whole_end / kBlock);
      const uint32_t len = f.block_bytes(block);
      std::unique_ptr<char[]> bytes;
      if (auto it = f.held.find(block); it != f.held.end()) {
        bytes = std::move(it->second);
        f.held.erase(it);
        held_bytes_ -= kBlock;
      } else {
        bytes = pool_.get();
        if (!read_back(f, bytes.get(), len, f.whole_end, se)) {
          pool_.put(std::move(bytes));
          return;
        }
      }
      whole_.add(fp, std::move(bytes), len);
      f.whole_end += len;
    }
    // Before libtorrent hears that the last piece passed (see the header).
    if (f.whole_end == f.size && !f.whole_done) {
      f.whole_done = true;
      whole_.finish(fp);
    }
  }

  void forget_piece(BlobFile& f, uint32_t p) {
    if (p >= f.pieces) return;
    f.leaves.erase(p);
    f.verified[p] = 0;
    drop_held(f, f.first_block(p), f.first_block(p) + f.blocks_in(p));
  }

  void drop_held(BlobFile& f, uint32_t from, uint32_t to) {
    for (auto it = f.held.lower_bound(from); it != f.held.end() && it->first < to;) {
      pool_.put(std::move(it->second));
      held_bytes_ -= kBlock;
      it = f.held.erase(it);
    }
  }

  // libtorrent asks at most a block at a time (larger requests are refused before).
  void read(const std::shared_ptr<BlobFile>& f, lt::peer_request r,
            std::function<void(lt::disk_buffer_holder, lt::storage_error const&)> h) {
    lt::storage_error se;
    const size_t len = static_cast<size_t>(std::clamp(r.length, 0, static_cast<int>(kBlock)));
    if (static_cast<size_t>(r.length) != len) se = os_error(EINVAL, lt::operation_t::file_read);
    char* buf = pool_.get().release();
    std::memset(buf, 0, len);  // a pad file's bytes
    if (f && !se) {
      const uint64_t off = f->piece_offset(static_cast<uint32_t>(static_cast<int>(r.piece))) +
                           static_cast<uint64_t>(r.start);
      if (off < f->size && f->open(se)) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(len, f->size - off));
        auto n = pread_some(f->fd.get(), buf, want, off);
        if (!n || *n != want) se = os_error(EIO, lt::operation_t::file_read);
      }
    }
    done([this, h = std::move(h), buf, len, se]() mutable {
      h(lt::disk_buffer_holder(*this, buf, static_cast<int>(len)), se);
    });
  }

  lt::status_t move(const std::shared_ptr<BlobFile>& f, const std::string& to_dir,
                    lt::move_flags_t flags, lt::storage_error& se) {
    if (!f) return lt::status_t::no_error;
    f->fd.reset();
    const std::string to = to_dir + "/" + f->name;
    struct stat sb {};
    if (flags == lt::move_flags_t::dont_replace && ::stat(to.c_str(), &sb) == 0) {
      ::unlink(f->path().c_str());  // the copy already there is the one to use
    } else if (::rename(f->path().c_str(), to.c_str()) != 0 && errno != ENOENT) {
      se = os_error(errno, lt::operation_t::file_rename);
      return lt::status_t::fatal_disk_error;
    }
    f->dir = to_dir;
    return lt::status_t::no_error;
  }

  lt::io_context& ioc_;
  std::shared_ptr<BlobBook> book_;
  BlobDiskOptions opts_;
  BlockPool pool_;
  WholeHasher whole_{pool_, *book_};  // before worker_: the worker hands it blocks
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  bool idle_ = false;       // the worker waits for jobs: submit() must wake it
  std::vector<Job> done_;  // worker thread only
  std::map<int, std::shared_ptr<BlobFile>> files_;
  int next_index_ = 0;
  std::vector<std::shared_ptr<lt::disk_observer>> observers_;
  size_t held_bytes_ = 0;  // worker thread only
  std::thread worker_;
};

}  // namespace

Result<BlobExpect> blob_expect(std::string_view metainfo, const Digest& d,
                               const lt::torrent_info& ti) {
  auto parsed = parse_and_bind(metainfo, d);
  if (!parsed) return parsed.error();
  BlobExpect e;
  e.size = parsed->size;
  e.piece_size = parsed->piece_size;
  e.v2 = std::move(parsed->piece_hashes);
  if (ti.v1()) {
    e.v1.resize(e.v2.size());
    for (size_t i = 0; i < e.v1.size(); ++i) {
      auto h = ti.hash_for_piece(lt::piece_index_t(static_cast<int>(i)));
      std::memcpy(e.v1[i].data(), h.data(), 20);
    }
  }
  return e;
}

void BlobBook::wait_for_room(uint64_t limit, std::chrono::milliseconds at_most) {
  std::unique_lock lock(room_mu_);
  room_.wait_for(lock, at_most, [&] { return queued_bytes < limit; });
}

void BlobBook::drained() {
  { std::lock_guard lock(room_mu_); }  // a waiter between its check and its wait sees this
  room_.notify_all();
}

void BlobBook::expect(const std::string& name, BlobExpect e) {
  std::lock_guard lock(mu_);
  expected_[name] = std::make_shared<const BlobExpect>(std::move(e));
}

void BlobBook::forget(const std::string& name) {
  std::lock_guard lock(mu_);
  expected_.erase(name);
  whole_.erase(name);
}

std::shared_ptr<const BlobExpect> BlobBook::expected(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = expected_.find(name);
  return it == expected_.end() ? nullptr : it->second;
}

void BlobBook::set_whole(const std::string& name, const Digest& d) {
  std::lock_guard lock(mu_);
  whole_.insert_or_assign(name, d);
}

std::optional<Digest> BlobBook::take_whole(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = whole_.find(name);
  if (it == whole_.end()) return std::nullopt;
  Digest d = it->second;
  whole_.erase(it);
  return d;
}

lt::disk_io_constructor_type blob_disk_io(std::shared_ptr<BlobBook> book, BlobDiskOptions o) {
  return [book = std::move(book), o](lt::io_context& ioc, lt::settings_interface const&,
                                     lt::counters&) -> std::unique_ptr<lt::disk_interface> {
    return std::make_unique<BlobDiskIo>(ioc, book, o);
  };
}

}  // namespace shoal::peer
