#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite (v1.1.1: pull, push, content
# discovery, content management) against a fresh origin on a loopback port. Not part
# of CI: the suite's sources are not in Debian. Build it once, offline, in GOPATH mode:
#
#   apt-get install golang-go golang-github-go-resty-resty-dev golang-golang-x-net-dev \
#     golang-github-google-uuid-dev golang-github-opencontainers-image-spec-dev \
#     golang-github-opencontainers-go-digest-dev golang-github-asaskevich-govalidator-dev \
#     golang-github-go-logr-logr-dev golang-github-mitchellh-mapstructure-dev
#   GOPATH_DIR/src/github.com/opencontainers/distribution-spec   tag v1.1.1
#   GOPATH_DIR/src/github.com/bloodorangeio/reggie                tag v0.6.1
#   GOPATH_DIR/src/github.com/onsi/ginkgo/v2                      tag v2.11.0
#   GOPATH_DIR/src/github.com/onsi/gomega                         tag v1.27.10
#   GOPATH_DIR/src/github.com/go-resty/resty/v2 -> /usr/share/gocode/src/github.com/go-resty/resty
#
# (`git archive TAG | tar -x -C DIR` from clones of those repositories.)
#
#   scripts/oci-conformance.sh GOPATH_DIR [REPORT_DIR]
#
# The origin runs with a token (the suite sends it as the Basic password, as docker
# login does). The JUnit and HTML reports go to REPORT_DIR (default: a temp dir).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

gopath=${1:?usage: oci-conformance.sh GOPATH_DIR [REPORT_DIR]}
gopath=$(cd "$gopath" && pwd)
suite_src="$gopath/src/github.com/opencontainers/distribution-spec/conformance"
[ -d "$suite_src" ] || { echo "no conformance suite under $suite_src (see the header)" >&2; exit 1; }
work=$(mktemp -d /tmp/shoal-oci-conformance.XXXXXX)
report=${2:-$work/report}
mkdir -p "$report"
trap 'kill "${ORIGIN_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work/origin"' EXIT

shoal_build
if [ ! -x "$gopath/conformance.test" ] || [ "$suite_src" -nt "$gopath/conformance.test" ]; then
  (cd "$suite_src" && GO111MODULE=off GOPROXY=off GOPATH="$gopath:/usr/share/gocode" \
     go test -c -o "$gopath/conformance.test" .)
fi

token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token" >"$work/token"
shoal_start_origin "$work/origin" --token-file "$work/token"
echo "origin: $ORIGIN_URL (log $work/origin.log)"

cd "$report"
OCI_ROOT_URL=$ORIGIN_URL OCI_NAMESPACE=conformance/test OCI_CROSSMOUNT_NAMESPACE=conformance/other \
OCI_USERNAME=shoal OCI_PASSWORD=$token \
OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1 \
OCI_HIDE_SKIPPED_WORKFLOWS=0 OCI_DEBUG=${OCI_DEBUG:-0} OCI_AUTOMATIC_CROSSMOUNT=${OCI_AUTOMATIC_CROSSMOUNT:-1} OCI_REPORT_DIR="$report" \
  "$gopath/conformance.test" && rc=0 || rc=$?
echo "reports: $report (junit.xml, report.html); exit $rc"
exit "$rc"
