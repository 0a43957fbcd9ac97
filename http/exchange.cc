#include "http/exchange.h"

#include "http/util.h"

namespace shoal::http {

Exchange::Exchange(RequestHead req, std::string remote)
    : req_(std::move(req)), remote_(std::move(remote)) {
  std::string_view target(req_.target().data(), req_.target().size());
  size_t q = target.find('?');
  path_ = std::string(target.substr(0, q));
  if (q != std::string_view::npos) query_ = std::string(target.substr(q + 1));
}

std::optional<std::string> Exchange::query_param(std::string_view name) const {
  return find_query_param(query_, name);
}

std::string_view Exchange::header(bhttp::field f) const {
  auto it = req_.find(f);
  if (it == req_.end()) return {};
  return {it->value().data(), it->value().size()};
}

std::string_view Exchange::remote_ip() const {
  std::string_view r = remote_;
  size_t colon = r.rfind(':');
  return colon == std::string_view::npos ? r : r.substr(0, colon);
}

bool Exchange::has_body() const { return content_length_.value_or(0) > 0 || chunked_; }

awaitable<void> Exchange::respond_json(bhttp::status status, std::string json) {
  Head head;
  head.result(status);
  head.set(bhttp::field::content_type, "application/json");
  co_await respond(std::move(head), json);
}

awaitable<void> Exchange::respond_error(bhttp::status status, std::string_view code,
                                        std::string_view message) {
  co_await respond_json(status, error_body(code, message));
}

std::string Exchange::error_body(std::string_view code, std::string_view message) const {
  return error_renderer_ ? error_renderer_(code, message) : error_json(code, message);
}

}  // namespace shoal::http
