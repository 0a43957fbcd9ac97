# All third-party dependencies come from Debian 12 packages. A missing one fails
# configuration with the package to install (scripts/install-deps.sh installs all).
find_package(PkgConfig QUIET)
if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

function(shoal_require_pkg target module debian_package)
  pkg_check_modules(${target} QUIET IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR "${module} not found: apt-get install ${debian_package} "
                        "(or run scripts/install-deps.sh)")
  endif()
endfunction()

shoal_require_pkg(LIBTORRENT libtorrent-rasterbar libtorrent-rasterbar-dev)
shoal_require_pkg(NGHTTP2 libnghttp2 libnghttp2-dev)
shoal_require_pkg(NGTCP2 libngtcp2 libngtcp2-dev)
shoal_require_pkg(NGTCP2_CRYPTO libngtcp2_crypto_gnutls libngtcp2-crypto-gnutls-dev)
shoal_require_pkg(NGHTTP3 libnghttp3 libnghttp3-dev)
shoal_require_pkg(GNUTLS gnutls libgnutls28-dev)
shoal_require_pkg(OPENSSL openssl libssl-dev)

find_package(Boost 1.74 QUIET)
if(NOT Boost_FOUND)
  message(FATAL_ERROR "Boost >= 1.74 not found: apt-get install libboost-dev")
endif()
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.11 QUIET)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "nlohmann_json not found: apt-get install nlohmann-json3-dev")
endif()

# libtorrent's shared library exports Asio internals: every translation unit that
# touches Asio must be compiled with libtorrent's own defines (see LIBRARY-NOTES).
add_library(shoal_deps INTERFACE)
target_compile_options(shoal_deps INTERFACE ${LIBTORRENT_CFLAGS_OTHER})
target_include_directories(shoal_deps SYSTEM INTERFACE ${Boost_INCLUDE_DIRS}
                           ${LIBTORRENT_INCLUDE_DIRS})
target_link_libraries(shoal_deps INTERFACE
  PkgConfig::LIBTORRENT PkgConfig::NGHTTP2
  # ngtcp2_crypto_gnutls's .pc has no Requires: order matters for static linking.
  PkgConfig::NGTCP2_CRYPTO PkgConfig::NGTCP2 PkgConfig::NGHTTP3 PkgConfig::GNUTLS
  PkgConfig::OPENSSL nlohmann_json::nlohmann_json Threads::Threads)
