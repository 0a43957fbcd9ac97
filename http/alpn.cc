#include "http/alpn.h"

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <string_view>

namespace shoal::http {
namespace {

int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
              unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  if (nghttp2_select_next_protocol(&chosen, outlen, in, inlen) < 0) return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// The client's list is length-prefixed names (RFC 7301 §3.1).
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
  constexpr std::string_view kHttp11 = "http/1.1";
  for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == kHttp11.size() && std::memcmp(in + i + 1, kHttp11.data(), len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

void enable_alpn(SSL_CTX* ctx, bool http2) {
  SSL_CTX_set_alpn_select_cb(ctx, http2 ? select_h2 : select_http11, nullptr);
}

bool negotiated_h2(SSL* ssl) {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  return len == 2 && std::memcmp(proto, "h2", 2) == 0;
}

}  // namespace shoal::http
