#include "origin/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <optional>
#include <stdexcept>

#include "core/file_io.h"
#include "core/sha256.h"
#include "core/text.h"

namespace shoal::origin {
namespace {

// Base64 of RFC 4648 with padding; nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 4096) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t padding = in.ends_with("==") ? 2 : in.ends_with('=') ? 1 : 0;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// The token a request carries: "Bearer <token>", or "Basic base64(<user>:<token>)"
// for registry clients (docker login, skopeo --creds) that only send passwords.
std::optional<std::string> presented_token(std::string_view header) {
  constexpr std::string_view kBearer = "Bearer ";
  constexpr std::string_view kBasic = "Basic ";
  if (header.size() > kBearer.size() && text::iequals(header.substr(0, kBearer.size()), kBearer)) {
    return std::string(header.substr(kBearer.size()));
  }
  if (header.size() > kBasic.size() && text::iequals(header.substr(0, kBasic.size()), kBasic)) {
    auto pair = base64_decode(header.substr(kBasic.size()));
    size_t colon = pair ? pair->find(':') : std::string::npos;
    if (colon != std::string::npos && colon + 1 < pair->size()) return pair->substr(colon + 1);
  }
  return std::nullopt;
}

}  // namespace

TokenAuth TokenAuth::from_tokens(const std::vector<std::string>& tokens) {
  TokenAuth a;
  if (!tokens.empty()) a.own_token_ = tokens.front();
  for (const auto& t : tokens) a.hashes_.push_back(Sha256::of(t.data(), t.size()));
  return a;
}

TokenAuth TokenAuth::from_file(const std::string& path) {
  auto text = read_small_file(path, 64 * 1024);
  if (!text) throw std::runtime_error("cannot read token_file: " + text.error().message);
  std::vector<std::string> tokens;
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (!line.empty() && line.front() != '#') tokens.emplace_back(line);
  }
  if (tokens.empty()) throw std::runtime_error("token_file " + path + " holds no token");
  return from_tokens(tokens);
}

TokenAuth::Verdict TokenAuth::check(std::string_view header) const {
  if (hashes_.empty()) return Verdict::allowed;
  auto token = presented_token(header);
  if (!token) return Verdict::missing;
  Digest given = Sha256::of(token->data(), token->size());
  bool match = false;
  for (const auto& h : hashes_) {
    // Every token is compared, so the position of a match does not show in timing.
    match |= CRYPTO_memcmp(h.bytes().data(), given.bytes().data(), Digest::kBytes) == 0;
  }
  return match ? Verdict::allowed : Verdict::wrong;
}

}  // namespace shoal::origin
