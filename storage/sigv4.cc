#include "storage/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "core/digest.h"
#include "core/sha256.h"
#include "core/text.h"

namespace shoal::storage {
namespace {

using Key = std::array<uint8_t, 32>;

Key hmac(const void* key, size_t key_len, std::string_view data) {
  Key out{};
  unsigned len = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_len),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Header values are signed trimmed, with inner runs of spaces folded to one.
std::string fold_spaces(std::string_view v) {
  std::string out;
  for (char c : text::trim_space(v)) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
  return out;
}

http::Headers canonical_headers(const http::Headers& headers) {
  http::Headers out;
  for (const auto& [name, value] : headers) out.emplace_back(lower(name), fold_spaces(value));
  std::sort(out.begin(), out.end());
  return out;
}

std::string signed_header_list(const http::Headers& canonical) {
  std::string out;
  for (const auto& h : canonical) {
    if (!out.empty()) out += ';';
    out += h.first;
  }
  return out;
}

std::string scope_of(std::string_view amz_datetime, std::string_view region) {
  return std::string(amz_datetime.substr(0, 8)) + "/" + std::string(region) + "/s3/aws4_request";
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string amz_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string sha256_hex(std::string_view data) { return Sha256::of(data.data(), data.size()).hex(); }

std::string hmac_sha256_hex(const Key& key, std::string_view data) {
  auto mac = hmac(key.data(), key.size(), data);
  return to_hex(mac.data(), mac.size());
}

Key signing_key(std::string_view secret, std::string_view date, std::string_view region,
                std::string_view service) {
  std::string first = "AWS4" + std::string(secret);
  Key k = hmac(first.data(), first.size(), date);
  k = hmac(k.data(), k.size(), region);
  k = hmac(k.data(), k.size(), service);
  return hmac(k.data(), k.size(), "aws4_request");
}

std::string canonical_query(const http::Headers& query) {
  http::Headers encoded;
  for (const auto& [name, value] : query)
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string canonical_request(const SigningRequest& r) {
  auto headers = canonical_headers(r.headers);
  std::string out;
  out.append(r.method).append("\n");
  out.append(r.path.empty() ? "/" : r.path).append("\n");
  out.append(canonical_query(r.query)).append("\n");
  for (const auto& [name, value] : headers) out += name + ":" + value + "\n";
  out.append("\n").append(signed_header_list(headers)).append("\n");
  out.append(r.payload_hash);
  return out;
}

std::string string_to_sign(std::string_view amz_datetime, std::string_view scope,
                           std::string_view canonical) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out.append(amz_datetime).append("\n").append(scope).append("\n");
  return out + sha256_hex(canonical);
}

std::string authorization(const SigningRequest& r, const AwsCredentials& creds,
                          std::string_view region, std::string_view amz_datetime) {
  std::string scope = scope_of(amz_datetime, region);
  auto to_sign = string_to_sign(amz_datetime, scope, canonical_request(r));
  auto key = signing_key(creds.secret_access_key, amz_datetime.substr(0, 8), region, "s3");
  return "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
         ",SignedHeaders=" + signed_header_list(canonical_headers(r.headers)) +
         ",Signature=" + hmac_sha256_hex(key, to_sign);
}

void sign_s3(http::Headers& headers, std::string_view method, std::string_view path,
             const http::Headers& query, std::string_view host, std::string_view payload_hash,
             const AwsCredentials& creds, std::string_view region, std::time_t now) {
  std::string when = amz_date(now);
  headers.emplace_back("x-amz-date", when);
  headers.emplace_back("x-amz-content-sha256", std::string(payload_hash));
  SigningRequest r{method, path, query, headers, payload_hash};
  r.headers.emplace_back("host", std::string(host));
  headers.emplace_back("Authorization", authorization(r, creds, region, when));
}

}  // namespace shoal::storage
