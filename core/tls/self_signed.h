// A self-signed TLS server certificate for development and closed deployments, so an
// edge can serve HTTPS (and HTTP/3, which has no plain-text mode) without a CA.
//
// The certificate is an end-entity one (basicConstraints CA:FALSE, keyUsage
// digitalSignature, extendedKeyUsage serverAuth) over an EC P-256 key. Clients trust
// it directly: `curl --cacert cert.pem` (OpenSSL accepts a self-signed leaf found in
// its trust store), or Chromium with --ignore-certificate-errors-spki-list=<hash>.
// CA:FALSE because Firefox and Go refuse a CA certificate presented as a server's.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"

namespace shoal {

// Writes a new key (PKCS#8 PEM, mode 0600) and a certificate (PEM) valid from an hour
// ago, to tolerate clock skew between hosts, for `validity`. The subject CN is the
// first DNS name (or the first IP address when there are none); every name goes into
// subjectAltName, which is what clients check. Each file is written to a temporary
// name beside it, fsynced and renamed, so a crash never leaves a truncated file; the
// key is renamed first, so after a crash between the two renames the old certificate
// does not match the new key and a server's key check fails loudly (regenerate).
//
// Errors: bad_request when there is no name, a DNS name is not a hostname (letters,
// digits, '-', '.', a leading "*." wildcard), an IP address does not parse, or
// validity is not positive; io_error or disk_full when a file cannot be written;
// io_error when OpenSSL fails.
Result<void> write_self_signed_cert(const std::filesystem::path& cert_pem,
                                    const std::filesystem::path& key_pem,
                                    const std::vector<std::string>& dns_names,
                                    const std::vector<std::string>& ip_addresses,
                                    std::chrono::hours validity);

// Base64 of the SHA-256 of the DER SubjectPublicKeyInfo of the (first) certificate in
// a PEM file: the pin format of Chromium's --ignore-certificate-errors-spki-list and of
// HPKP-style pinning. Errors: io_error when the file cannot be read, bad_request when
// it holds no PEM certificate.
Result<std::string> spki_sha256_base64(const std::filesystem::path& cert_pem);

}  // namespace shoal
