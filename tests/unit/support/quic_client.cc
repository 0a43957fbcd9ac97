#include "tests/unit/support/quic_client.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace shoal::test::quic {

using http::h3::timestamp;

Clock::time_point from_timestamp(ngtcp2_tstamp t) {
  if (t == UINT64_MAX) return Clock::time_point::max();
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(t)));
}

Addresses::Addresses(uint16_t client_port) {
  client.sin_family = AF_INET;
  client.sin_addr.s_addr = htonl(0x0a000001);  // 10.0.0.1
  client.sin_port = htons(client_port);
  server.sin_family = AF_INET;
  server.sin_addr.s_addr = htonl(0x0a000002);  // 10.0.0.2
  server.sin_port = htons(443);
}

ngtcp2_path Addresses::client_path() {
  return {{reinterpret_cast<ngtcp2_sockaddr*>(&client), sizeof client},
          {reinterpret_cast<ngtcp2_sockaddr*>(&server), sizeof server},
          nullptr};
}

ngtcp2_path Addresses::server_path() {
  return {{reinterpret_cast<ngtcp2_sockaddr*>(&server), sizeof server},
          {reinterpret_cast<ngtcp2_sockaddr*>(&client), sizeof client},
          nullptr};
}

Client::Client(Addresses& addr, Clock::time_point now, Options o)
    : addr_(addr), manual_(o.manual_consume) {
  init_tls(o);
  init_quic(now, o);
  if (o.resume != nullptr) {
    ngtcp2_conn_set_early_remote_transport_params(conn_.get(), &o.resume->params);
    if (init_h3() != 0) throw std::runtime_error("nghttp3 for 0-RTT");
  }
}

// GnuTLS as a QUIC client: TLS 1.3 only, no certificate checks, tickets kept.
void Client::init_tls(const Options& o) {
  gnutls_certificate_credentials_t creds = nullptr;
  gnutls_certificate_allocate_credentials(&creds);
  creds_.reset(creds);
  gnutls_session_t tls = nullptr;
  gnutls_init(&tls, GNUTLS_CLIENT | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA);
  tls_.reset(tls);
  gnutls_handshake_set_hook_function(tls, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_POST,
                                     on_ticket);
  if (o.resume != nullptr) {
    gnutls_session_set_data(tls, o.resume->session.data(), o.resume->session.size());
  }
  gnutls_priority_set_direct(
      tls,
      "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
      "+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE",
      nullptr);
  ngtcp2_crypto_gnutls_configure_client_session(tls);
  ref_ = ngtcp2_crypto_conn_ref{get_conn, this};
  gnutls_session_set_ptr(tls, &ref_);
  gnutls_credentials_set(tls, GNUTLS_CRD_CERTIFICATE, creds);
  gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(o.alpn)),
                      static_cast<unsigned>(std::strlen(o.alpn))};
  gnutls_alpn_set_protocols(tls, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  gnutls_server_name_set(tls, GNUTLS_NAME_DNS, "localhost", 9);
}

void Client::init_quic(Clock::time_point now, const Options& o) {
  ngtcp2_callbacks cb{};
  cb.client_initial = ngtcp2_crypto_client_initial_cb;
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb.rand = [](uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
    gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
  };
  cb.get_new_connection_id = [](ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len,
                                void*) {
    cid->datalen = len;
    gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, len);
    gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN);
    return 0;
  };
  cb.recv_rx_key = on_rx_key;
  cb.handshake_completed = [](ngtcp2_conn*, void* u) {
    self(u).handshake_done = true;
    return 0;
  };
  cb.recv_stream_data = on_stream_data;
  cb.acked_stream_data_offset = on_acked;
  cb.stream_close = on_stream_close;
  cb.stream_reset = on_stream_reset;
  cb.stream_stop_sending = on_stop_sending;
  cb.extend_max_stream_data = on_extend_stream_data;

  ngtcp2_cid dcid, scid;
  dcid.datalen = 18;
  scid.datalen = 17;
  gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, dcid.datalen);
  gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = timestamp(now);
  settings.log_printf = log;  // counts datagrams the client could not read
  settings.max_window = o.connection_window;
  settings.max_stream_window = o.stream_window;
  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_data = o.connection_window;
  params.initial_max_stream_data_bidi_local = o.stream_window;
  params.initial_max_stream_data_uni = 1u << 20;
  params.initial_max_streams_bidi = 0;
  params.initial_max_streams_uni = 8;
  params.max_idle_timeout = 0;  // the server's idle timeout governs
  ngtcp2_path path = addr_.client_path();
  ngtcp2_conn* conn = nullptr;
  int rv = ngtcp2_conn_client_new(&conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                                  &settings, &params, nullptr, this);
  if (rv != 0) {
    throw std::runtime_error(std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv));
  }
  conn_.reset(conn);
  ngtcp2_conn_set_tls_native_handle(conn, tls_.get());
}

std::optional<Client::Resumption> Client::resumption() const {
  if (ticket_.empty()) return std::nullopt;
  Resumption r{ticket_, *ngtcp2_conn_get_remote_transport_params(conn_.get())};
  r.params.version_info = {};  // points into this connection
  r.params.version_info_present = 0;
  return r;
}

bool Client::early_data_accepted() const {
  return (gnutls_session_get_flags(tls_.get()) & GNUTLS_SFLAGS_EARLY_DATA) != 0;
}

uint64_t Client::bidi_left() const { return ngtcp2_conn_get_streams_bidi_left(conn_.get()); }

int64_t Client::request(const std::string& method, const std::string& path, Fields extra,
                        const std::string* body) {
  Fields fields = {
      {":method", method}, {":scheme", "https"}, {":authority", "example.com"}, {":path", path}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  return submit(std::move(fields), body);
}

int64_t Client::submit(Fields fields, const std::string* body) {
  int64_t id = -1;
  if (ngtcp2_conn_open_bidi_stream(conn_.get(), &id, nullptr) != 0) return -1;
  std::vector<nghttp3_nv> nva;
  for (auto& [n, v] : fields) {
    nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                   n.size(), v.size(), NGHTTP3_NV_FLAG_NONE});
  }
  static constexpr nghttp3_data_reader kReader{read_upload};
  if (body != nullptr) uploads_[id] = Upload{body, 0};
  replies[id];
  int rv = nghttp3_conn_submit_request(h3_.get(), id, nva.data(), nva.size(),
                                       body ? &kReader : nullptr, nullptr);
  if (rv != 0) {
    throw std::runtime_error(std::string("nghttp3_conn_submit_request: ") + nghttp3_strerror(rv));
  }
  return id;
}

void Client::rebind(uint16_t port) {
  addr_.client.sin_port = htons(port);
  ngtcp2_addr a{reinterpret_cast<ngtcp2_sockaddr*>(&addr_.client), sizeof addr_.client};
  ngtcp2_conn_set_local_addr(conn_.get(), &a);
}

void Client::consume(int64_t id, size_t n) {
  ngtcp2_conn_extend_max_stream_offset(conn_.get(), id, n);
  ngtcp2_conn_extend_max_offset(conn_.get(), n);
}

void Client::cancel(int64_t id) {
  nghttp3_conn_shutdown_stream_read(h3_.get(), id);
  ngtcp2_conn_shutdown_stream(conn_.get(), id, NGHTTP3_H3_REQUEST_CANCELLED);
}

void Client::close(uint64_t h3_error, Clock::time_point now) {
  ngtcp2_connection_close_error err;
  ngtcp2_connection_close_error_set_application_error(&err, h3_error, nullptr, 0);
  Datagram dg(max_payload());
  ngtcp2_pkt_info pi{};
  auto n = ngtcp2_conn_write_connection_close(conn_.get(), nullptr, &pi, dg.data(), dg.size(),
                                              &err, timestamp(now));
  if (n > 0) {
    dg.resize(static_cast<size_t>(n));
    outbox_.push_back(std::move(dg));
  }
  closed_by_us = true;
}

int64_t Client::open_raw() {
  int64_t id = -1;
  if (ngtcp2_conn_open_bidi_stream(conn_.get(), &id, nullptr) != 0) return -1;
  raw_.insert(id);
  return id;
}

void Client::send_raw(int64_t id, std::span<const uint8_t> bytes, bool fin,
                      Clock::time_point now) {
  size_t off = 0;
  for (int i = 0; i < 100 && (off < bytes.size() || fin); ++i) {
    ngtcp2_vec v{const_cast<uint8_t*>(bytes.data() + off), bytes.size() - off};
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    ngtcp2_ssize taken = -1;
    Datagram dg(max_payload());
    auto n = ngtcp2_conn_writev_stream(
        conn_.get(), &ps.path, &pi, dg.data(), dg.size(), &taken,
        fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : NGTCP2_WRITE_STREAM_FLAG_NONE, id, &v, 1,
        timestamp(now));
    if (n <= 0) {
      if (n < 0) error = std::string("raw write: ") + ngtcp2_strerror(static_cast<int>(n));
      return;
    }
    dg.resize(static_cast<size_t>(n));
    outbox_.push_back(std::move(dg));
    if (taken > 0) off += static_cast<size_t>(taken);
    if (off == bytes.size() && taken >= 0) fin = false;  // written along with the last bytes
  }
}

std::vector<Datagram> Client::write(Clock::time_point now) {
  std::vector<Datagram> out = std::move(outbox_);
  outbox_.clear();
  if (dead()) return out;
  // One buffer for the whole loop: after NGTCP2_ERR_WRITE_MORE (and the other
  // errors under FLAG_MORE) ngtcp2 goes on with the packet it has begun in it.
  Datagram dg(max_payload());
  for (int guard = 0; guard < 100000; ++guard) {
    int64_t id = -1;
    int fin = 0;
    nghttp3_vec vec[16];
    nghttp3_ssize nvec = 0;
    if (h3_ != nullptr && ngtcp2_conn_get_max_data_left(conn_.get()) > 0) {
      nvec = nghttp3_conn_writev_stream(h3_.get(), &id, &fin, vec, 16);
      if (nvec < 0) {
        error = std::string("nghttp3_conn_writev_stream: ") +
                nghttp3_strerror(static_cast<int>(nvec));
        return out;
      }
    }
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin != 0 ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    ngtcp2_ssize taken = -1;
    auto n = ngtcp2_conn_writev_stream(conn_.get(), &ps.path, &pi, dg.data(), dg.size(), &taken,
                                       flags, id, reinterpret_cast<const ngtcp2_vec*>(vec),
                                       static_cast<size_t>(nvec), timestamp(now));
    if (n < 0) {
      switch (n) {
        case NGTCP2_ERR_STREAM_DATA_BLOCKED: nghttp3_conn_block_stream(h3_.get(), id); continue;
        case NGTCP2_ERR_STREAM_SHUT_WR: nghttp3_conn_shutdown_stream_write(h3_.get(), id); continue;
        case NGTCP2_ERR_WRITE_MORE:
          nghttp3_conn_add_write_offset(h3_.get(), id, static_cast<uint64_t>(taken));
          continue;
        default:
          error = std::string("ngtcp2_conn_writev_stream: ") + ngtcp2_strerror(static_cast<int>(n));
          return out;
      }
    }
    if (taken >= 0 && id >= 0) {
      nghttp3_conn_add_write_offset(h3_.get(), id, static_cast<uint64_t>(taken));
    }
    if (n == 0) break;
    out.emplace_back(dg.begin(), dg.begin() + n);
  }
  ngtcp2_conn_update_pkt_tx_time(conn_.get(), timestamp(now));
  return out;
}

void Client::read(std::span<const uint8_t> dg, Clock::time_point now) {
  if (dead()) return;
  ngtcp2_path path = addr_.client_path();
  ngtcp2_pkt_info pi{};
  int rv = ngtcp2_conn_read_pkt(conn_.get(), &path, &pi, dg.data(), dg.size(), timestamp(now));
  if (rv == 0) return;
  if (rv == NGTCP2_ERR_DRAINING) {
    draining = true;
    ngtcp2_conn_get_connection_close_error(conn_.get(), &peer_close);
    return;
  }
  error = std::string("ngtcp2_conn_read_pkt: ") + ngtcp2_strerror(rv);
}

Clock::time_point Client::expiry() const {
  return dead() ? Clock::time_point::max() : from_timestamp(ngtcp2_conn_get_expiry(conn_.get()));
}

void Client::handle_expiry(Clock::time_point now) {
  if (dead()) return;
  if (int rv = ngtcp2_conn_handle_expiry(conn_.get(), timestamp(now)); rv != 0) {
    error = std::string("ngtcp2_conn_handle_expiry: ") + ngtcp2_strerror(rv);
  }
}

size_t Client::max_payload() const {
  return ngtcp2_conn_get_max_tx_udp_payload_size(conn_.get());
}

// ngtcp2's log: a datagram it drops as undecodable or undecryptable is a packet the
// server framed wrongly (or a burst cut at the wrong place).
void Client::log(void* u, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  char line[512];
  std::vsnprintf(line, sizeof line, format, ap);
  va_end(ap);
  if (std::strstr(line, "could not decode") != nullptr ||
      std::strstr(line, "could not decrypt") != nullptr) {
    ++self(u).unreadable;
    if (self(u).unreadable_lines.size() < 5) self(u).unreadable_lines.emplace_back(line);
  }
}

ngtcp2_conn* Client::get_conn(ngtcp2_crypto_conn_ref* ref) {
  return self(ref->user_data).conn_.get();
}

int Client::on_ticket(gnutls_session_t session, unsigned, unsigned, unsigned,
                      const gnutls_datum_t*) {
  auto* ref = static_cast<ngtcp2_crypto_conn_ref*>(gnutls_session_get_ptr(session));
  gnutls_datum_t data{};
  if (gnutls_session_get_data2(session, &data) == 0) {
    self(ref->user_data).ticket_.assign(data.data, data.data + data.size);
    gnutls_free(data.data);
  }
  return 0;
}

int Client::on_rx_key(ngtcp2_conn*, ngtcp2_crypto_level level, void* user) {
  if (level != NGTCP2_CRYPTO_LEVEL_APPLICATION) return 0;
  Client& client = self(user);
  if (client.h3_ != nullptr) return 0;  // set up for 0-RTT already
  return client.init_h3() == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

int Client::init_h3() {
  nghttp3_callbacks cb{};
  cb.recv_header = [](nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* name,
                      nghttp3_rcbuf* value, uint8_t, void* u, void*) {
    auto n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
    self(u).replies[id].headers[std::string(reinterpret_cast<const char*>(n.base), n.len)] =
        std::string(reinterpret_cast<const char*>(v.base), v.len);
    return 0;
  };
  cb.recv_data = [](nghttp3_conn*, int64_t id, const uint8_t* data, size_t len, void* u, void*) {
    Client& c = self(u);
    c.replies[id].body.append(reinterpret_cast<const char*>(data), len);
    if (!c.manual_) c.consume(id, len);
    return 0;
  };
  cb.deferred_consume = [](nghttp3_conn*, int64_t id, size_t n, void* u, void*) {
    self(u).consume(id, n);
    return 0;
  };
  cb.end_stream = [](nghttp3_conn*, int64_t id, void* u, void*) {
    self(u).replies[id].ended = true;
    return 0;
  };
  cb.stream_close = [](nghttp3_conn*, int64_t id, uint64_t code, void* u, void*) {
    auto& r = self(u).replies[id];
    r.closed = true;
    r.close_code = code;
    return 0;
  };
  cb.shutdown = [](nghttp3_conn*, int64_t id, void* u) {
    self(u).goaway_id = id;
    return 0;
  };
  cb.stop_sending = [](nghttp3_conn*, int64_t id, uint64_t code, void* u, void*) {
    ngtcp2_conn_shutdown_stream_read(self(u).conn_.get(), id, code);
    return 0;
  };
  cb.reset_stream = [](nghttp3_conn*, int64_t id, uint64_t code, void* u, void*) {
    ngtcp2_conn_shutdown_stream_write(self(u).conn_.get(), id, code);
    return 0;
  };
  nghttp3_settings settings;
  nghttp3_settings_default(&settings);
  settings.qpack_max_dtable_capacity = 4096;
  settings.qpack_blocked_streams = 16;
  nghttp3_conn* h3 = nullptr;
  if (nghttp3_conn_client_new(&h3, &cb, &settings, nghttp3_mem_default(), this) != 0) return -1;
  h3_.reset(h3);
  ngtcp2_conn* conn = conn_.get();
  int64_t control = -1, enc = -1, dec = -1;
  if (ngtcp2_conn_open_uni_stream(conn, &control, nullptr) != 0 ||
      nghttp3_conn_bind_control_stream(h3, control) != 0 ||
      ngtcp2_conn_open_uni_stream(conn, &enc, nullptr) != 0 ||
      ngtcp2_conn_open_uni_stream(conn, &dec, nullptr) != 0 ||
      nghttp3_conn_bind_qpack_streams(h3, enc, dec) != 0) {
    return -1;
  }
  return 0;
}

int Client::on_stream_data(ngtcp2_conn* conn, uint32_t flags, int64_t id, uint64_t,
                           const uint8_t* data, size_t len, void* u, void*) {
  Client& c = self(u);
  if (c.raw_.count(id) != 0) {  // the server's answer as bytes: kept, not parsed
    auto& r = c.replies[id];
    r.body.append(reinterpret_cast<const char*>(data), len);
    if ((flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0) r.ended = true;
    c.consume(id, len);
    return 0;
  }
  if (c.h3_ == nullptr) return 0;
  auto n = nghttp3_conn_read_stream(c.h3_.get(), id, data, len,
                                    (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
  if (n < 0) {
    c.error = std::string("nghttp3_conn_read_stream: ") + nghttp3_strerror(static_cast<int>(n));
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  ngtcp2_conn_extend_max_stream_offset(conn, id, static_cast<uint64_t>(n));
  ngtcp2_conn_extend_max_offset(conn, static_cast<uint64_t>(n));
  return 0;
}

int Client::on_acked(ngtcp2_conn*, int64_t id, uint64_t, uint64_t len, void* u, void*) {
  Client& c = self(u);
  if (c.h3_ != nullptr && nghttp3_conn_add_ack_offset(c.h3_.get(), id, len) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Client::on_stream_close(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t code, void* u,
                            void*) {
  Client& c = self(u);
  if ((flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) == 0) code = NGHTTP3_H3_NO_ERROR;
  if (auto it = c.replies.find(id); it != c.replies.end()) {
    it->second.closed = true;
    it->second.close_code = code;
  }
  if (c.h3_ == nullptr) return 0;
  int rv = nghttp3_conn_close_stream(c.h3_.get(), id, code);
  if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

int Client::on_stream_reset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t code, void* u, void*) {
  Client& c = self(u);
  auto& r = c.replies[id];
  r.reset = true;
  r.reset_code = code;
  // Not an error for a raw stream nghttp3 never saw.
  if (c.h3_ != nullptr) nghttp3_conn_shutdown_stream_read(c.h3_.get(), id);
  return 0;
}

// ngtcp2 0.12: the client no longer reads the stream (not: STOP_SENDING arrived).
int Client::on_stop_sending(ngtcp2_conn*, int64_t id, uint64_t, void* u, void*) {
  Client& c = self(u);
  if (c.h3_ != nullptr) nghttp3_conn_shutdown_stream_read(c.h3_.get(), id);
  return 0;
}

int Client::on_extend_stream_data(ngtcp2_conn*, int64_t id, uint64_t, void* u, void*) {
  Client& c = self(u);
  if (c.h3_ != nullptr && nghttp3_conn_unblock_stream(c.h3_.get(), id) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

nghttp3_ssize Client::read_upload(nghttp3_conn*, int64_t id, nghttp3_vec* vec, size_t veccnt,
                                  uint32_t* flags, void* u, void*) {
  Client& c = self(u);
  auto it = c.uploads_.find(id);
  if (it == c.uploads_.end() || veccnt == 0) {
    *flags |= NGHTTP3_DATA_FLAG_EOF;
    return 0;
  }
  Upload& up = it->second;
  size_t n = std::min<size_t>(64 * 1024, up.body->size() - up.pos);
  vec[0] = nghttp3_vec{reinterpret_cast<uint8_t*>(const_cast<char*>(up.body->data() + up.pos)), n};
  up.pos += n;
  if (up.pos == up.body->size()) *flags |= NGHTTP3_DATA_FLAG_EOF;
  return n > 0 ? 1 : 0;
}

}  // namespace shoal::test::quic
