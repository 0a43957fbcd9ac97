// ngtcp2's and nghttp3's C callbacks for h3::Session, its start-up, and the loop
// that turns stream data into packets.
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <cstring>

#include "http/h3/session.h"

namespace shoal::http::h3 {

struct Session::Callbacks {
  static Session& of(void* user_data) { return *static_cast<Session*>(user_data); }

  static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref) {
    return static_cast<Session*>(ref->user_data)->conn_;
  }

  static void rand(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
    gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
  }

  static int new_cid(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen, void* ud) {
    Session& s = of(ud);
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = cidlen;
    if (ngtcp2_crypto_generate_stateless_reset_token(token, s.reset_secret_.data(),
                                                     s.reset_secret_.size(), cid) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    s.cids_.add_cid(*cid, &s);
    return 0;
  }

  static int remove_cid(ngtcp2_conn*, const ngtcp2_cid* cid, void* ud) {
    of(ud).cids_.remove_cid(*cid);
    return 0;
  }

  static int handshake_completed(ngtcp2_conn*, void* ud) {
    // A ticket lets the client resume, and send its next request as 0-RTT.
    gnutls_session_ticket_send(of(ud).tls_, 1, 0);
    return 0;
  }

  static int recv_stream_data(ngtcp2_conn* conn, uint32_t flags, int64_t id, uint64_t,
                              const uint8_t* data, size_t len, void* ud, void*) {
    Session& s = of(ud);
    if (s.h3_ == nullptr && !s.start_h3()) return NGTCP2_ERR_CALLBACK_FAILURE;
    s.reading_early_ = (flags & NGTCP2_STREAM_DATA_FLAG_EARLY) != 0;
    auto n =
        nghttp3_conn_read_stream(s.h3_, id, data, len, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
    s.reading_early_ = false;
    if (n < 0) {
      ngtcp2_connection_close_error_set_application_error(
          &s.close_err_, nghttp3_err_infer_quic_app_error_code(static_cast<int>(n)), nullptr, 0);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    // Framing and QPACK bytes nghttp3 took; request body credit returns as handlers read.
    ngtcp2_conn_extend_max_stream_offset(conn, id, static_cast<uint64_t>(n));
    ngtcp2_conn_extend_max_offset(conn, static_cast<uint64_t>(n));
    return 0;
  }

  static int acked_offset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t len, void* ud, void*) {
    Session& s = of(ud);
    if (s.h3_ != nullptr && nghttp3_conn_add_ack_offset(s.h3_, id, len) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  static int stream_close(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t code, void* ud,
                          void*) {
    Session& s = of(ud);
    if ((flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) == 0) code = NGHTTP3_H3_NO_ERROR;
    if (s.h3_ == nullptr) return 0;
    int rv = nghttp3_conn_close_stream(s.h3_, id, code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
      ngtcp2_connection_close_error_set_application_error(
          &s.close_err_, nghttp3_err_infer_quic_app_error_code(rv), nullptr, 0);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  static int stream_reset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t, void* ud, void*) {
    Session& s = of(ud);
    if (s.h3_ != nullptr && nghttp3_conn_shutdown_stream_read(s.h3_, id) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  static int stop_sending(ngtcp2_conn*, int64_t id, uint64_t, void* ud, void*) {
    Session& s = of(ud);
    if (s.h3_ != nullptr && nghttp3_conn_shutdown_stream_read(s.h3_, id) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  static int extend_stream_data(ngtcp2_conn*, int64_t id, uint64_t, void* ud, void*) {
    Session& s = of(ud);
    if (s.h3_ != nullptr && nghttp3_conn_unblock_stream(s.h3_, id) != 0) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  static int extend_remote_bidi(ngtcp2_conn*, uint64_t max_streams, void* ud) {
    Session& s = of(ud);
    if (s.h3_ != nullptr) nghttp3_conn_set_max_client_streams_bidi(s.h3_, max_streams);
    return 0;
  }

  // nghttp3 -------------------------------------------------------------------

  static int h3_acked(nghttp3_conn*, int64_t id, uint64_t len, void* ud, void*) {
    Session& s = of(ud);
    if (Entry* e = s.find(id)) s.acked(*e, len);
    return 0;
  }

  static int h3_stream_close(nghttp3_conn*, int64_t id, uint64_t code, void* ud, void*) {
    of(ud).closed(id, code);
    return 0;
  }

  static int h3_recv_data(nghttp3_conn*, int64_t id, const uint8_t* data, size_t len, void* ud,
                          void*) {
    Session& s = of(ud);
    Entry* e = s.find(id);
    if (e == nullptr) return 0;
    Stream& st = *e->stream;
    if (st.released) {  // nobody reads it: the client may send on
      s.consume(st, len);
      return 0;
    }
    st.append_body(data, len);
    st.notify();
    return 0;
  }

  static int h3_deferred_consume(nghttp3_conn*, int64_t id, size_t n, void* ud, void*) {
    Session& s = of(ud);
    ngtcp2_conn_extend_max_stream_offset(s.conn_, id, n);
    ngtcp2_conn_extend_max_offset(s.conn_, n);
    return 0;
  }

  static int h3_begin_headers(nghttp3_conn*, int64_t id, void* ud, void*) {
    Session& s = of(ud);
    s.open(id).early = s.reading_early_;
    return 0;
  }

  static std::string_view view(nghttp3_rcbuf* b) {
    auto v = nghttp3_rcbuf_get_buf(b);
    return {reinterpret_cast<const char*>(v.base), v.len};
  }

  static int h3_recv_header(nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* name,
                            nghttp3_rcbuf* value, uint8_t, void* ud, void*) {
    if (Entry* e = of(ud).find(id)) e->stream->request.add(view(name), view(value));
    return 0;
  }

  static int h3_recv_trailer(nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* name,
                             nghttp3_rcbuf* value, uint8_t, void* ud, void*) {
    if (Entry* e = of(ud).find(id)) e->stream->request.count(view(name), view(value));
    return 0;
  }

  static int h3_end_headers(nghttp3_conn*, int64_t id, int fin, void* ud, void*) {
    Session& s = of(ud);
    Entry* e = s.find(id);
    if (e == nullptr || e->stream->head || e->stream->responded) return 0;
    if (fin != 0) e->stream->peer_done = e->stream->bodyless = true;
    s.head_complete(*e);
    return 0;
  }

  static int h3_end_stream(nghttp3_conn*, int64_t id, void* ud, void*) {
    if (Entry* e = of(ud).find(id)) {
      e->stream->peer_done = true;
      e->stream->notify();
    }
    return 0;
  }

  // nghttp3 wants the client told to stop sending on this stream (STOP_SENDING).
  static int h3_stop_sending(nghttp3_conn*, int64_t id, uint64_t code, void* ud, void*) {
    ngtcp2_conn_shutdown_stream_read(of(ud).conn_, id, code);
    return 0;
  }

  static int h3_reset_stream(nghttp3_conn*, int64_t id, uint64_t code, void* ud, void*) {
    ngtcp2_conn_shutdown_stream_write(of(ud).conn_, id, code);
    return 0;
  }

  static nghttp3_ssize read_data(nghttp3_conn*, int64_t id, nghttp3_vec* vec, size_t veccnt,
                                 uint32_t* flags, void* ud, void*) {
    Session& s = of(ud);
    Entry* e = s.find(id);
    if (e == nullptr) return NGHTTP3_ERR_CALLBACK_FAILURE;
    return s.read_body(*e, vec, veccnt, flags);
  }
};

Result<void> Session::respond(Stream& s, const std::vector<Field>& fields, uint64_t body_length) {
  if (h3_ == nullptr || s.closed) return Error(Errc::io_error, "stream closed");
  std::vector<nghttp3_nv> nva;
  nva.reserve(fields.size());
  for (const auto& f : fields) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                   f.value.size(), NGHTTP3_NV_FLAG_NONE});
  }
  s.responded = true;
  s.declared = body_length;
  grant_stream_credit();  // rides in the response's packet
  static constexpr nghttp3_data_reader kReader{Callbacks::read_data};
  int rv = nghttp3_conn_submit_response(h3_, s.id, nva.data(), nva.size(),
                                        body_length > 0 ? &kReader : nullptr);
  if (rv != 0)
    return Error(Errc::protocol_error, std::string("HTTP/3 response: ") + nghttp3_strerror(rv));
  if (body_length == 0) s.response_done = true;
  return {};
}

Result<void> Session::start(const TlsContext& tls, const Accepted& a, Clock::time_point now) {
  now_ = now;
  ngtcp2_callbacks cb{};
  cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb.handshake_completed = Callbacks::handshake_completed;
  cb.recv_stream_data = Callbacks::recv_stream_data;
  cb.acked_stream_data_offset = Callbacks::acked_offset;
  cb.stream_close = Callbacks::stream_close;
  cb.stream_reset = Callbacks::stream_reset;
  cb.stream_stop_sending = Callbacks::stop_sending;
  cb.extend_max_stream_data = Callbacks::extend_stream_data;
  cb.extend_max_remote_streams_bidi = Callbacks::extend_remote_bidi;
  cb.rand = Callbacks::rand;
  cb.get_new_connection_id = Callbacks::new_cid;
  cb.remove_connection_id = Callbacks::remove_cid;

  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = ts(now);
  settings.cc_algo = opts_.congestion_control;
  settings.max_window = opts_.connection_window;
  settings.max_stream_window = opts_.stream_window;
  if (a.odcid != nullptr) settings.token = a.hd.token;  // a valid Retry token: address validated
  if (size_t known = udp_payload_for(opts_.datagrams, a.path.local.addr, a.path.remote.addr);
      known > 0) {
    settings.max_tx_udp_payload_size = known;
    settings.no_tx_udp_payload_size_shaping = 1;  // the path's MTU is known: no discovery
  }

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_remote = opts_.stream_window;
  params.initial_max_stream_data_bidi_local = opts_.stream_window;
  params.initial_max_stream_data_uni = 256 * 1024;  // control and QPACK streams
  params.initial_max_data = opts_.connection_window;
  params.initial_max_streams_bidi = opts_.max_streams;
  params.initial_max_streams_uni = 3;
  params.max_idle_timeout =
      static_cast<ngtcp2_duration>(opts_.idle_timeout.count()) * NGTCP2_MILLISECONDS;
  params.active_connection_id_limit = 7;
  params.original_dcid = a.odcid != nullptr ? *a.odcid : a.hd.dcid;
  if (a.odcid != nullptr) {
    params.retry_scid = a.hd.dcid;
    params.retry_scid_present = 1;
  }
  ngtcp2_cid scid;
  scid.datalen = kCidLen;
  gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
  params.stateless_reset_token_present = 1;
  if (ngtcp2_crypto_generate_stateless_reset_token(
          params.stateless_reset_token, reset_secret_.data(), reset_secret_.size(), &scid) != 0) {
    return Error(Errc::io_error, "stateless reset token");
  }

  int rv = ngtcp2_conn_server_new(&conn_, &a.hd.scid, &scid, &a.path, a.hd.version, &cb, &settings,
                                  &params, nullptr, this);
  if (rv != 0)
    return Error(Errc::protocol_error, std::string("QUIC connection: ") + ngtcp2_strerror(rv));
  cids_.add_cid(scid, this);
  ref_.get_conn = Callbacks::get_conn;
  ref_.user_data = this;
  auto tls_session = tls.new_session(&ref_);
  if (!tls_session) return tls_session.error();
  tls_ = *tls_session;
  ngtcp2_conn_set_tls_native_handle(conn_, tls_);
  return {};
}

// The HTTP/3 layer: its control and QPACK streams need the client's stream limits,
// known once its transport parameters have arrived.
Result<void> Session::start_h3() {
  if (ngtcp2_conn_get_max_local_streams_uni(conn_) < 3) {
    return Error(Errc::protocol_error, "client allows too few unidirectional streams");
  }
  nghttp3_callbacks cb{};
  cb.acked_stream_data = Callbacks::h3_acked;
  cb.stream_close = Callbacks::h3_stream_close;
  cb.recv_data = Callbacks::h3_recv_data;
  cb.deferred_consume = Callbacks::h3_deferred_consume;
  cb.begin_headers = Callbacks::h3_begin_headers;
  cb.recv_header = Callbacks::h3_recv_header;
  cb.end_headers = Callbacks::h3_end_headers;
  cb.recv_trailer = Callbacks::h3_recv_trailer;
  cb.stop_sending = Callbacks::h3_stop_sending;
  cb.end_stream = Callbacks::h3_end_stream;
  cb.reset_stream = Callbacks::h3_reset_stream;
  nghttp3_settings settings;
  nghttp3_settings_default(&settings);
  settings.max_field_section_size = opts_.max_header_list;
  settings.qpack_max_dtable_capacity = opts_.qpack_table;
  settings.qpack_blocked_streams = opts_.qpack_blocked_streams;
  if (nghttp3_conn_server_new(&h3_, &cb, &settings, nullptr, this) != 0) {
    return Error(Errc::io_error, "HTTP/3 connection");
  }
  // What we allowed the client (our transport parameter); ngtcp2 reports each raise
  // through extend_max_remote_streams_bidi. Not get_streams_bidi_left: that is the
  // client's limit on streams we open.
  nghttp3_conn_set_max_client_streams_bidi(h3_, opts_.max_streams);
  int64_t control = -1, enc = -1, dec = -1;
  if (ngtcp2_conn_open_uni_stream(conn_, &control, nullptr) != 0 ||
      nghttp3_conn_bind_control_stream(h3_, control) != 0 ||
      ngtcp2_conn_open_uni_stream(conn_, &enc, nullptr) != 0 ||
      ngtcp2_conn_open_uni_stream(conn_, &dec, nullptr) != 0 ||
      nghttp3_conn_bind_qpack_streams(h3_, enc, dec) != 0) {
    return Error(Errc::protocol_error, "HTTP/3 control streams");
  }
  return {};
}

// One packet: stream data nghttp3 has ready, coalesced with ACKs and control frames.
// 0: nothing more to send now (or congestion-limited).
Result<size_t> Session::write_packet(uint8_t* dest, size_t cap, ngtcp2_path_storage& ps,
                                     Clock::time_point now) {
  for (;;) {
    int64_t id = -1;
    int fin = 0;
    nghttp3_vec vec[16];
    nghttp3_ssize nvec = 0;
    if (h3_ != nullptr && ngtcp2_conn_get_max_data_left(conn_) > 0) {
      nvec = nghttp3_conn_writev_stream(h3_, &id, &fin, vec, 16);
      if (nvec < 0) {
        ngtcp2_connection_close_error_set_application_error(
            &close_err_, nghttp3_err_infer_quic_app_error_code(static_cast<int>(nvec)), nullptr, 0);
        closing_ = true;
        return Error(Errc::protocol_error,
                     std::string("HTTP/3: ") + nghttp3_strerror(static_cast<int>(nvec)));
      }
    }
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin != 0 ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
    ngtcp2_ssize taken = -1;
    ngtcp2_pkt_info pi{};
    auto n = ngtcp2_conn_writev_stream(conn_, &ps.path, &pi, dest, cap, &taken, flags, id,
                                       reinterpret_cast<const ngtcp2_vec*>(vec),
                                       static_cast<size_t>(nvec), ts(now));
    if (n < 0) {
      switch (n) {
        case NGTCP2_ERR_STREAM_DATA_BLOCKED: nghttp3_conn_block_stream(h3_, id); continue;
        case NGTCP2_ERR_STREAM_SHUT_WR: nghttp3_conn_shutdown_stream_write(h3_, id); continue;
        case NGTCP2_ERR_WRITE_MORE:
          nghttp3_conn_add_write_offset(h3_, id, static_cast<uint64_t>(taken));
          continue;
        default: {
          auto failed = fail(static_cast<int>(n), "QUIC write");
          return failed.error();
        }
      }
    }
    if (taken >= 0) nghttp3_conn_add_write_offset(h3_, id, static_cast<uint64_t>(taken));
    return static_cast<size_t>(n);
  }
}

static bool same_path(const ngtcp2_path& a, const ngtcp2_path& b) {
  return a.remote.addrlen == b.remote.addrlen && a.local.addrlen == b.local.addrlen &&
         std::memcmp(a.remote.addr, b.remote.addr, a.remote.addrlen) == 0 &&
         std::memcmp(a.local.addr, b.local.addr, a.local.addrlen) == 0;
}

Result<Burst> Session::write(uint8_t* buf, size_t cap, size_t max_packets, Clock::time_point now) {
  now_ = now;
  if (closing_) return write_close(buf, cap, now);
  Burst b;
  b.data = buf;
  ngtcp2_path_storage_zero(&b.path);
  if (!held_.empty()) {  // a packet for another path, left over from the last burst
    std::memcpy(buf, held_.data(), held_.size());
    b.size = b.segment = held_.size();
    b.path = held_path_;
    b.path.path.local.addr = reinterpret_cast<ngtcp2_sockaddr*>(&b.path.local_addrbuf);
    b.path.path.remote.addr = reinterpret_cast<ngtcp2_sockaddr*>(&b.path.remote_addrbuf);
    held_.clear();
    return b;
  }
  const size_t mtu = max_udp_payload();
  for (size_t i = 0; i < max_packets && b.size + mtu <= cap; ++i) {
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    auto n = write_packet(buf + b.size, mtu, ps, now);
    if (!n) {
      if (closing_) return b.size > 0 ? Result<Burst>(b) : write_close(buf, cap, now);
      return n.error();
    }
    if (*n == 0) break;
    if (b.size == 0) {
      b.path = ps;
      b.path.path.local.addr = reinterpret_cast<ngtcp2_sockaddr*>(&b.path.local_addrbuf);
      b.path.path.remote.addr = reinterpret_cast<ngtcp2_sockaddr*>(&b.path.remote_addrbuf);
      b.segment = *n;
    } else if (*n > b.segment || !same_path(ps.path, b.path.path)) {
      // GSO cuts a burst into segment-sized datagrams: a larger packet (after a small
      // ACK-only one, say) or one for another path starts the next burst instead.
      held_.assign(buf + b.size, buf + b.size + *n);
      held_path_ = ps;
      break;
    }
    b.size += *n;
    if (*n < b.segment) break;  // a short datagram can only end a GSO run
  }
  ngtcp2_conn_update_pkt_tx_time(conn_, ts(now));
  return b;
}

}  // namespace shoal::http::h3
