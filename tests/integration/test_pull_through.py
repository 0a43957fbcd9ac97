"""Pull-through from an upstream registry (issue 19): an origin with upstream_registry serves
images only the upstream docker-registry holds. skopeo pulls through a peer agent; the second
pull never reaches upstream (counted in its access log); repositories outside upstream_match
are not asked for; a blob whose bytes upstream do not match its digest is refused and not
stored; Basic credentials and the Docker token flow against the real registry."""

import hashlib
import os
import shutil
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import oci_image
from peer_harness import PeerTestCase
from registry_harness import DOCKER_REGISTRY, OPENSSL, TokenServer, UpstreamRegistry
from shoal_harness import HOST, blob_path, requires_tool, wait_until

SKOPEO = shutil.which("skopeo")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@requires_tool(SKOPEO and DOCKER_REGISTRY and OPENSSL,
               "skopeo, docker-registry and openssl are needed (scripts/install-deps.sh)")
class PullThroughCase(PeerTestCase):
    upstream_auth = None     # see UpstreamRegistry
    upstream_creds = None    # "user:password" for pushing and for upstream_credentials

    def setUp(self):
        super().setUp()
        self.registry = self.start_registry(self.upstream_auth)

    def start_registry(self, auth):
        r = UpstreamRegistry(self.mkdir("upstream"), auth)
        self.addCleanup(r.stop)
        return r

    def start_pull_through(self, *extra, peers=2):
        args = ["--upstream-registry", self.registry.url, "--upstream-match", "mirror/.*",
                "--upstream-tag-ttl", "1h", *extra]
        if self.upstream_creds:
            creds = os.path.join(self.tmp, "upstream-creds")
            with open(creds, "w") as f:
                f.write(self.upstream_creds + "\n")
            args += ["--upstream-credentials", creds]
        return self.start_cluster(peers=peers, origin_args=args)

    def skopeo(self, *args, check=True):
        policy = os.path.join(self.tmp, "policy.json")
        with open(policy, "w") as f:
            f.write('{"default":[{"type":"insecureAcceptAnything"}]}')
        r = subprocess.run([SKOPEO, "--policy", policy, *args], capture_output=True, text=True,
                           timeout=150, env=dict(os.environ, HOME=self.home))
        if check:
            self.assertEqual(r.returncode, 0, f"skopeo {' '.join(args)}:\n{r.stderr}")
        return r

    def push_upstream(self, ref, sizes, seed):
        layout = os.path.join(self.tmp, "layout-" + ref.replace("/", "-").replace(":", "-"))
        img = oci_image.make_image(layout, sizes, seed=seed)
        creds = ["--dest-creds", self.upstream_creds] if self.upstream_creds else []
        self.skopeo("copy", "--dest-tls-verify=false", *creds, f"oci:{layout}:latest",
                    f"docker://{HOST}:{self.registry.port}/{ref}")
        return img

    def pull(self, peer, ref, check=True):
        out = os.path.join(self.tmp, f"pulled-{time.monotonic_ns()}")
        r = self.skopeo("copy", "--src-tls-verify=false", f"docker://{HOST}:{peer.port}/{ref}",
                        f"dir:{out}", check=check)
        return out, r

    def assert_dir_copy(self, out, img):
        names = set(os.listdir(out)) - {"version", "manifest.json"}
        self.assertEqual(names, {d.split(":")[1] for d in img.layer_digests + [img.config_digest]})
        for name in names:
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), name)
        with open(os.path.join(out, "manifest.json"), "rb") as f:
            self.assertEqual("sha256:" + hashlib.sha256(f.read()).hexdigest(), img.manifest_digest)

    def upstream_requests(self):
        time.sleep(0.3)  # the access log line is written after the response
        return self.registry.requests()

    def stored_on_origin(self, digest):
        return os.path.exists(blob_path(self.origin.data_dir, digest))


class PullThrough(PullThroughCase):
    def test_pull_through_an_agent_then_again_without_upstream(self):
        img = self.push_upstream("mirror/app:v1", [3 << 20, 1 << 20], seed=11)
        pushed = len(self.upstream_requests())
        peers = self.start_pull_through()
        out, _ = self.pull(peers[0], "mirror/app:v1")
        self.assert_dir_copy(out, img)
        first = self.upstream_requests()[pushed:]
        self.assertTrue(first, "the first pull did not reach upstream")
        for digest in img.layer_digests + [img.config_digest, img.manifest_digest]:
            self.assertTrue(self.stored_on_origin(digest), digest)
        # Each blob was fetched from upstream once.
        blob_gets = [p for m, p, s in first if m == "GET" and "/blobs/" in p]
        self.assertEqual(len(blob_gets), len(set(blob_gets)), first)
        out2, _ = self.pull(peers[1], "mirror/app:v1")
        self.assert_dir_copy(out2, img)
        self.assertEqual(self.upstream_requests()[pushed + len(first):], [],
                         "the second pull reached upstream")

    def test_a_repository_outside_upstream_match_is_not_asked_for(self):
        self.push_upstream("other/app:v1", [1 << 20], seed=12)
        self.start_pull_through()
        before = len(self.upstream_requests())
        r = self.origin.request("GET", "/v2/other/app/manifests/v1")
        self.assertEqual(r.status, 404, r.body)
        r = self.origin.request("GET", "/v2/mirror/absent/manifests/v1")
        self.assertEqual(r.status, 404, r.body)  # asked upstream, which has none
        asked = self.upstream_requests()[before:]
        self.assertFalse([p for _, p, _ in asked if p.startswith("/v2/other/")], asked)
        self.assertTrue([p for _, p, _ in asked if p.startswith("/v2/mirror/absent/")], asked)

    def test_a_blob_that_does_not_match_its_digest_is_refused(self):
        img = self.push_upstream("mirror/bad:v1", [1 << 20], seed=13)
        layer = img.layer_digests[0]
        with open(self.registry.blob_data(layer), "r+b") as f:
            f.seek(1000)
            byte = f.read(1)
            f.seek(1000)
            f.write(bytes([byte[0] ^ 0xFF]))
        peers = self.start_pull_through()
        _, r = self.pull(peers[0], "mirror/bad:v1", check=False)
        self.assertNotEqual(r.returncode, 0, "the pull of a corrupt layer succeeded")
        r = self.origin.request("GET", f"/v2/mirror/bad/blobs/{layer}")
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("DIGEST_INVALID", r.text())
        self.assertFalse(self.stored_on_origin(layer))
        self.assertEqual(os.listdir(os.path.join(self.origin.data_dir, "tmp")), [])
        # The manifest and config were fine: stored.
        self.assertTrue(self.stored_on_origin(img.manifest_digest))

    def test_a_moved_tag_is_seen_after_the_ttl_and_a_down_upstream_serves_the_stored_one(self):
        self.push_upstream("mirror/app:latest", [1 << 20], seed=14)
        self.start_pull_through("--upstream-tag-ttl", "1s", peers=0)
        r = self.origin.request("GET", "/v2/mirror/app/manifests/latest",
                                headers={"Accept": OCI_MANIFEST})
        self.assertEqual(r.status, 200, r.body)
        first = r.header("Docker-Content-Digest")
        img2 = self.push_upstream("mirror/app:latest", [1 << 20], seed=15)
        time.sleep(1.2)
        r = self.origin.request("GET", "/v2/mirror/app/manifests/latest")
        self.assertEqual(r.header("Docker-Content-Digest"), img2.manifest_digest)
        self.assertNotEqual(first, img2.manifest_digest)
        self.registry.stop()
        time.sleep(1.2)
        r = self.origin.request("GET", "/v2/mirror/app/manifests/latest")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Docker-Content-Digest"), img2.manifest_digest)
        r = self.origin.request("GET", "/v2/mirror/never/manifests/latest")
        self.assertEqual(r.status, 502, r.body)  # upstream down and nothing stored
        self.assertIn("upstream registry", r.text())


class PullThroughBasicAuth(PullThroughCase):
    upstream_auth = ("htpasswd", "puller:pull-secret")
    upstream_creds = "puller:pull-secret"

    def test_basic_credentials_pull_through(self):
        img = self.push_upstream("mirror/app:v1", [1 << 20], seed=21)
        peers = self.start_pull_through()
        out, _ = self.pull(peers[0], "mirror/app:v1")
        self.assert_dir_copy(out, img)
        # Upstream refuses anonymous reads: the pull went through on the credentials.
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(self.registry.url + "/v2/mirror/app/manifests/v1", timeout=10)
        self.assertEqual(refused.exception.code, 401)
        statuses = [s for _, _, s in self.upstream_requests()]
        self.assertIn("200", statuses)


class PullThroughBadCredentials(PullThroughCase):
    upstream_auth = ("htpasswd", "puller:pull-secret")

    def test_wrong_credentials_are_an_error_naming_upstream(self):
        self.upstream_creds = "puller:pull-secret"
        self.push_upstream("mirror/app:v1", [1 << 20], seed=22)
        self.upstream_creds = "puller:wrong"
        self.start_pull_through(peers=0)
        self.assertTrue(any("upstream registry not usable" in line
                            for line in self.origin.raw_stdout), self.origin.stdout_text())
        r = self.origin.request("GET", "/v2/mirror/app/manifests/v1")
        self.assertEqual(r.status, 401, r.body)


class PullThroughToken(PullThroughCase):
    def setUp(self):
        self.tokens = None
        super().setUp()

    def start_registry(self, auth):
        self.tokens = TokenServer(self.mkdir("token"), "shoal-upstream", "puller:token-secret")
        self.addCleanup(self.tokens.stop)
        self.upstream_creds = "puller:token-secret"
        return super().start_registry(("token", self.tokens))

    def test_the_token_flow_pulls_through_and_tokens_are_reused(self):
        img = self.push_upstream("mirror/app:v1", [1 << 20, 1 << 20], seed=31)
        issued_for_push = self.tokens.issued
        peers = self.start_pull_through()
        out, _ = self.pull(peers[0], "mirror/app:v1")
        self.assert_dir_copy(out, img)
        # One token for the start-up check (no scope) and one for mirror/app's pull scope,
        # reused for the manifest and every blob.
        self.assertGreaterEqual(self.tokens.issued - issued_for_push, 1)
        self.assertLessEqual(self.tokens.issued - issued_for_push, 2)
        self.assertEqual(self.tokens.refused, 0)


if __name__ == "__main__":
    unittest.main()
