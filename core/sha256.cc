#include "core/sha256.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

namespace shoal {

void Sha256::Free::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t len) { EVP_DigestUpdate(ctx_.get(), data, len); }

Digest Sha256::finish() {
  Digest::Bytes raw{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), raw.data(), &len);
  EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  return Digest::from_bytes(raw);
}

Digest Sha256::of(const void* data, size_t len) {
  Sha256 h;
  h.update(data, len);
  return h.finish();
}

Result<Digest> Sha256::of_fd(int fd) {
  constexpr size_t kBuf = 1 << 20;
  std::vector<char> buf(kBuf);
  Sha256 h;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(errno, "reading for hashing");
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  return h.finish();
}

Sha1::Sha1() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: cannot initialise SHA-1");
  }
}

Sha1::~Sha1() = default;
Sha1::Sha1(Sha1&&) noexcept = default;
Sha1& Sha1::operator=(Sha1&&) noexcept = default;

void Sha1::update(const void* data, size_t len) { EVP_DigestUpdate(ctx_.get(), data, len); }

Sha1::Hash Sha1::finish() {
  Hash raw{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), raw.data(), &len);
  EVP_DigestInit_ex(ctx_.get(), EVP_sha1(), nullptr);
  return raw;
}

}  // namespace shoal
