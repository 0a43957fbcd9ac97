#include "tracker/redis_protocol.h"

#include <hiredis/read.h>

#include <memory>

#include "core/text.h"

namespace shoal::tracker::redis {
namespace {

void append_length_line(std::string& out, char type, size_t n) {
  out += type;
  out += std::to_string(n);
  out += "\r\n";
}

template <class Args>
std::string encode(const Args& args) {
  size_t size = 16;
  for (const auto& a : args) size += a.size() + 16;
  std::string out;
  out.reserve(size);
  append_length_line(out, '*', args.size());
  for (const auto& a : args) {
    append_length_line(out, '$', a.size());
    out.append(a.data(), a.size());
    out += "\r\n";
  }
  return out;
}

// redisReader's object functions, building Reply trees. A child lives inside its
// parent's `elements` (hiredis creates children in order, each finished before the
// next begins, so growing the vector never moves one still being filled); only a root
// is allocated on its own, and hiredis frees only roots (freeObject).
Reply* attach(const redisReadTask* task, Reply value) {
  if (task->parent == nullptr) return new Reply(std::move(value));
  auto* parent = static_cast<Reply*>(task->parent->obj);
  parent->elements.push_back(std::move(value));
  return &parent->elements.back();
}

void* create_string(const redisReadTask* task, char* str, size_t len) {
  Reply r;
  r.type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
           : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                              : Reply::Type::string;
  r.str.assign(str, len);
  return attach(task, std::move(r));
}

void* create_array(const redisReadTask* task, int elements) {
  if (elements > ReplyReader::kMaxElements) {
    static_cast<ReplyReader*>(task->privdata)->refuse_array(elements);
    return nullptr;  // hiredis then stops with an error
  }
  Reply r;
  r.type = Reply::Type::array;
  return attach(task, std::move(r));
}

void* create_integer(const redisReadTask* task, long long value) {
  Reply r;
  r.type = Reply::Type::integer;
  r.integer = value;
  return attach(task, std::move(r));
}

void* create_nil(const redisReadTask* task) { return attach(task, Reply{}); }

void free_object(void* root) { delete static_cast<Reply*>(root); }

redisReplyObjectFunctions kObjectFunctions = {create_string, create_array, create_integer,
                                              create_nil, free_object};

}  // namespace

std::string_view Reply::error_code() const {
  if (type != Type::error) return {};
  std::string_view s = str;
  return s.substr(0, s.find(' '));
}

std::string encode_command(const std::vector<std::string>& args) { return encode(args); }

std::string encode_command(std::initializer_list<std::string_view> args) { return encode(args); }

void ReplyReader::Free::operator()(redisReader* r) const { redisReaderFree(r); }

ReplyReader::ReplyReader() : reader_(redisReaderCreateWithFunctions(&kObjectFunctions)) {
  if (!reader_) throw std::bad_alloc();
  reader_->privdata = this;
}

ReplyReader::~ReplyReader() = default;

Error ReplyReader::failure(std::string_view what) const {
  if (refused_elements_ > 0) {
    return Error(Errc::protocol_error, "redis reply: an array of " +
                                           std::to_string(refused_elements_) +
                                           " elements is over the limit");
  }
  return Error(Errc::protocol_error, std::string(what) + reader_->errstr);
}

Result<void> ReplyReader::feed(const char* data, size_t len) {
  if (redisReaderFeed(reader_.get(), data, len) != REDIS_OK) return failure("redis reply: ");
  return {};
}

Result<std::optional<Reply>> ReplyReader::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
    return failure("malformed redis reply: ");
  }
  if (raw == nullptr) return std::optional<Reply>();
  std::unique_ptr<Reply> owned(static_cast<Reply*>(raw));
  return std::optional<Reply>(std::move(*owned));
}

ReplyFault classify(const Reply& reply) {
  if (!reply.is_error()) return ReplyFault::none;
  std::string_view code = reply.error_code();
  // Redis before 7 wraps a script's failed write: "ERR Error running script ... -READONLY".
  if (code == "READONLY" || code == "MASTERDOWN" ||
      reply.str.find("READONLY You can't write") != std::string::npos) {
    return ReplyFault::failover;
  }
  if (code == "LOADING" || code == "BUSY" || code == "TRYAGAIN") return ReplyFault::busy;
  if (code == "OOM") return ReplyFault::full;
  return ReplyFault::other;
}

std::string HostPort::str() const {
  std::string h = host.find(':') == std::string::npos ? host : "[" + host + "]";
  return h + ":" + std::to_string(port);
}

std::optional<HostPort> parse_master_address(const Reply& reply) {
  if (reply.type != Reply::Type::array || reply.elements.size() != 2) return std::nullopt;
  const Reply& host = reply.elements[0];
  const Reply& port = reply.elements[1];
  if (host.type != Reply::Type::string || port.type != Reply::Type::string) return std::nullopt;
  auto number = text::parse_uint<unsigned>(port.str);
  if (host.str.empty() || !number || *number == 0 || *number > 65535) return std::nullopt;
  return HostPort{host.str, static_cast<uint16_t>(*number)};
}

bool role_is_master(const Reply& reply) {
  return reply.type == Reply::Type::array && !reply.elements.empty() &&
         reply.elements[0].type == Reply::Type::string && reply.elements[0].str == "master";
}

}  // namespace shoal::tracker::redis
