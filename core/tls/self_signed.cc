#include "core/tls/self_signed.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "core/file_io.h"

namespace shoal {
namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using NamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;

// Key material must not linger in freed heap memory.
struct SecretString {
  std::string text;
  ~SecretString() { OPENSSL_cleanse(text.data(), text.size()); }
};

// OpenSSL reports why through its thread-local queue; drain it so the next failure on
// this thread does not report a stale cause.
Error openssl_error(const std::string& what) {
  std::array<char, 256> why{};
  if (unsigned long code = ERR_get_error()) {  // NOLINT(google-runtime-int): OpenSSL's type
    ERR_error_string_n(code, why.data(), why.size());
  } else {
    std::snprintf(why.data(), why.size(), "unknown error");
  }
  ERR_clear_error();
  return Error(Errc::io_error, "OpenSSL: " + what + ": " + why.data());
}

bool is_hostname_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Stricter than DNS allows, because the name goes into a certificate that clients
// match against a URL's host: RFC 1123 labels, optionally a leading "*." wildcard.
bool is_valid_dns_name(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (!is_hostname_char(c) || ++label > 63) {
      return false;
    }
  }
  return label > 0;
}

Result<void> check_names(const std::vector<std::string>& dns_names,
                         const std::vector<std::string>& ip_addresses) {
  if (dns_names.empty() && ip_addresses.empty()) {
    return Error(Errc::bad_request, "a certificate needs at least one DNS name or IP address");
  }
  for (const auto& name : dns_names) {
    if (!is_valid_dns_name(name)) {
      return Error(Errc::bad_request, "'" + name + "' is not a valid DNS name for a certificate");
    }
  }
  return {};
}

Result<void> set_random_serial(X509* cert) {
  // 16 random bytes: unique without coordination. The top bit is cleared so the
  // INTEGER is positive, the next one set so it always encodes in 16 bytes.
  std::array<unsigned char, 16> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return openssl_error("random serial number");
  }
  raw[0] = static_cast<unsigned char>((raw[0] & 0x7f) | 0x40);
  BignumPtr bn(BN_bin2bn(raw.data(), static_cast<int>(raw.size()), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) {
    return openssl_error("setting the serial number");
  }
  return {};
}

Result<void> set_validity(X509* cert, std::chrono::hours validity) {
  constexpr long kSkewSeconds = 3600;  // NOLINT(google-runtime-int): OpenSSL's type
  const long days = static_cast<long>(validity.count() / 24);            // NOLINT
  const long seconds = static_cast<long>(validity.count() % 24) * 3600;  // NOLINT
  if (!X509_gmtime_adj(X509_getm_notBefore(cert), -kSkewSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert), static_cast<int>(days), seconds, nullptr)) {
    return openssl_error("setting the validity period");
  }
  return {};
}

// Subject and issuer are the same name: that is what makes the certificate self-signed.
Result<void> set_names(X509* cert, const std::string& common_name) {
  X509_NAME* name = X509_get_subject_name(cert);
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, -1, -1, 0) ||
      !X509_set_issuer_name(cert, name)) {
    return openssl_error("setting the subject name");
  }
  return {};
}

Result<NamePtr> general_name(int type, ASN1_STRING* value) {
  NamePtr gen(GENERAL_NAME_new());
  if (!gen) {
    ASN1_STRING_free(value);
    return openssl_error("allocating a subjectAltName entry");
  }
  GENERAL_NAME_set0_value(gen.get(), type, value);
  return gen;
}

Result<NamePtr> dns_name(const std::string& name) {
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  if (!ia5 || !ASN1_STRING_set(ia5, name.data(), static_cast<int>(name.size()))) {
    ASN1_IA5STRING_free(ia5);
    return openssl_error("encoding DNS name " + name);
  }
  return general_name(GEN_DNS, ia5);
}

Result<NamePtr> ip_name(const std::string& address) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(address.c_str());
  if (!ip) {
    ERR_clear_error();
    return Error(Errc::bad_request, "'" + address + "' is not an IPv4 or IPv6 address");
  }
  return general_name(GEN_IPADD, ip);
}

// Built entry by entry rather than through a config string, so no name can smuggle
// in another entry with a comma.
Result<void> add_subject_alt_names(X509* cert, const std::vector<std::string>& dns_names,
                                   const std::vector<std::string>& ip_addresses) {
  NamesPtr names(GENERAL_NAMES_new());
  if (!names) return openssl_error("allocating subjectAltName");
  auto push = [&](Result<NamePtr> gen) -> Result<void> {
    if (!gen) return gen.error();
    if (!sk_GENERAL_NAME_push(names.get(), gen->get())) return openssl_error("subjectAltName");
    gen->release();
    return {};
  };
  for (const auto& name : dns_names) {
    if (auto ok = push(dns_name(name)); !ok) return ok;
  }
  for (const auto& address : ip_addresses) {
    if (auto ok = push(ip_name(address)); !ok) return ok;
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error("adding subjectAltName");
  }
  return {};
}

Result<void> add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) {
    return openssl_error(std::string("adding extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

Result<void> add_server_extensions(X509* cert) {
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_key_identifier, "hash"},
  };
  for (const auto& [nid, value] : extensions) {
    if (auto ok = add_extension(cert, nid, value); !ok) return ok;
  }
  return {};
}

Result<X509Ptr> make_certificate(EVP_PKEY* key, const std::vector<std::string>& dns_names,
                                 const std::vector<std::string>& ip_addresses,
                                 std::chrono::hours validity) {
  X509Ptr cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3) || !X509_set_pubkey(cert.get(), key)) {
    return openssl_error("creating the certificate");
  }
  // A CN longer than 64 characters is not encodable; clients read only the SAN anyway.
  std::string cn = dns_names.empty() ? ip_addresses.front() : dns_names.front();
  if (cn.size() > 64) cn = "shoal self-signed";
  Result<void> ok = set_random_serial(cert.get());
  if (ok) ok = set_validity(cert.get(), validity);
  if (ok) ok = set_names(cert.get(), cn);
  if (ok) ok = add_server_extensions(cert.get());
  if (ok) ok = add_subject_alt_names(cert.get(), dns_names, ip_addresses);
  if (!ok) return ok.error();
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) return openssl_error("signing");
  return cert;
}

template <class Write>
Result<std::string> to_pem(Write write, const std::string& what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) return openssl_error("encoding " + what + " as PEM");
  char* data = nullptr;
  long len = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, &data);  // NOLINT(google-runtime-int)
  std::string out(data, static_cast<size_t>(len));
  // The memory BIO holds a copy of the key's PEM too; wipe it before it is freed.
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return out;
}

// Written under a temporary name in the target's directory (rename is atomic only
// within one filesystem); `mode` applies from creation, so the key is never readable
// by others, even briefly.
Result<std::filesystem::path> write_temp(const std::filesystem::path& target,
                                         const std::string& contents, mode_t mode) {
  std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  std::filesystem::path tmp = dir / (".tmp-" + random_hex(8));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return errno_error(errno, "creating " + tmp.string());
  auto ok = write_all(fd.get(), contents.data(), contents.size());
  if (ok) ok = fsync_fd(fd.get(), tmp.string());
  if (!ok) {
    ::unlink(tmp.c_str());
    return ok.error();
  }
  return tmp;
}

Result<void> rename_into_place(const std::filesystem::path& tmp,
                               const std::filesystem::path& target) {
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    return errno_error(errno, "renaming to " + target.string());
  }
  std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  return fsync_dir(dir.string());
}

Result<void> write_pair(const std::filesystem::path& cert_pem, const std::string& cert_text,
                        const std::filesystem::path& key_pem, const std::string& key_text) {
  auto key_tmp = write_temp(key_pem, key_text, 0600);
  if (!key_tmp) return key_tmp.error();
  auto cert_tmp = write_temp(cert_pem, cert_text, 0644);
  Result<void> ok;
  if (!cert_tmp) ok = cert_tmp.error();
  if (ok) ok = rename_into_place(*key_tmp, key_pem);
  if (ok) ok = rename_into_place(*cert_tmp, cert_pem);
  if (!ok) {
    ::unlink(key_tmp->c_str());  // after a successful rename, these fail harmlessly
    if (cert_tmp) ::unlink(cert_tmp->c_str());
  }
  return ok;
}

}  // namespace

Result<void> write_self_signed_cert(const std::filesystem::path& cert_pem,
                                    const std::filesystem::path& key_pem,
                                    const std::vector<std::string>& dns_names,
                                    const std::vector<std::string>& ip_addresses,
                                    std::chrono::hours validity) {
  if (auto ok = check_names(dns_names, ip_addresses); !ok) return ok;
  if (validity.count() <= 0) {
    return Error(Errc::bad_request, "certificate validity must be positive");
  }
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("generating a P-256 key");
  auto cert = make_certificate(key.get(), dns_names, ip_addresses, validity);
  if (!cert) return cert.error();
  auto cert_text =
      to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert->get()); }, "the certificate");
  if (!cert_text) return cert_text.error();
  auto key_text = to_pem(
      [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
      },
      "the private key");
  if (!key_text) return key_text.error();
  SecretString secret{std::move(key_text).value()};
  return write_pair(cert_pem, *cert_text, key_pem, secret.text);
}

Result<std::string> spki_sha256_base64(const std::filesystem::path& cert_pem) {
  auto text = read_small_file(cert_pem.string(), 1 << 20);
  if (!text) return text.error();
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    ERR_clear_error();
    return Error(Errc::bad_request, cert_pem.string() + " holds no PEM certificate");
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  if (len <= 0) return openssl_error("encoding the public key");
  std::array<unsigned char, EVP_MAX_MD_SIZE> hash{};
  unsigned int hash_len = 0;
  int digested =
      EVP_Digest(der, static_cast<size_t>(len), hash.data(), &hash_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (digested != 1) return openssl_error("hashing the public key");
  std::string b64(4 * ((hash_len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), hash.data(),
                          static_cast<int>(hash_len));
  b64.resize(static_cast<size_t>(n));
  return b64;
}

}  // namespace shoal
