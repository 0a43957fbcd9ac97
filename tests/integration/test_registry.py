"""The OCI registry (issue 7): skopeo pushes images to the origin's /v2/ and copies
them back out of peer agents, which fetch layers through the swarm; the wire protocol
(uploads, mounts, manifests, tag lists, errors in the spec's format) checked request
by request; and the token on the push side."""

import base64
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import unittest

import oci_image
from peer_harness import PeerTestCase
from shoal_harness import requires_tool, HOST, MiB, http_request, make_bytes, wait_until

TOKEN = "registry-token-0123456789"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SKOPEO = shutil.which("skopeo")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic(token=TOKEN):
    return "Basic " + base64.b64encode(f"shoal:{token}".encode()).decode()


@requires_tool(SKOPEO, "skopeo is not installed (scripts/install-deps.sh installs it)")
class Registry(PeerTestCase):
    def setUp(self):
        super().setUp()
        token_file = os.path.join(self.tmp, "tokens")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.start_cluster(peers=2, origin_args=("--token-file", token_file))

    # -- helpers ----------------------------------------------------------------------

    def skopeo(self, *args, check=True):
        env = dict(os.environ, HOME=self.home)  # no auth file or policy from the user
        policy = os.path.join(self.tmp, "policy.json")
        with open(policy, "w") as f:
            f.write('{"default":[{"type":"insecureAcceptAnything"}]}')
        r = subprocess.run([SKOPEO, "--policy", policy, *args], capture_output=True, text=True,
                           timeout=150, env=env)
        if check:
            self.assertEqual(r.returncode, 0, f"skopeo {' '.join(args)}:\n{r.stderr}")
        return r

    def push(self, layout, ref, *extra):
        return self.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"shoal:{TOKEN}",
                           *extra, f"oci:{layout}:latest", f"docker://{HOST}:{self.origin.port}/{ref}")

    def pull(self, server, ref, out, *extra):
        return self.skopeo("copy", "--src-tls-verify=false", *extra,
                           f"docker://{HOST}:{server.port}/{ref}", out)

    def image(self, name, sizes, seed):
        layout = os.path.join(self.tmp, name)
        return layout, oci_image.make_image(layout, sizes, seed=seed)

    def assert_dir_copy(self, out, img):
        """skopeo's dir: transport names each blob by its hex digest: every one must hash
        to its name, and all of the image's blobs must be there."""
        names = set(os.listdir(out)) - {"version", "manifest.json"}
        want = {d.split(":")[1] for d in img.layer_digests + [img.config_digest]}
        self.assertEqual(names, want)
        for name in names:
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), name)
        with open(os.path.join(out, "manifest.json"), "rb") as f:
            self.assertEqual(sha256(f.read()), img.manifest_digest)

    def origin_req(self, method, path, body=None, headers=None, auth=True):
        h = dict(headers or {})
        if auth:
            h["Authorization"] = basic()
        return http_request(self.origin.port, method, path, body=body, headers=h)

    def assert_oci_error(self, resp, status, code):
        self.assertEqual(resp.status, status, resp.text())
        errors = resp.json()["errors"]
        self.assertEqual(errors[0]["code"], code, resp.text())
        self.assertTrue(errors[0]["message"])

    def upload_blob(self, repo, data):
        r = self.origin_req("POST", f"/v2/{repo}/blobs/uploads/?digest={sha256(data)}", body=data)
        self.assertEqual(r.status, 201, r.text())
        return sha256(data)

    # -- skopeo end to end -----------------------------------------------------------

    def test_push_then_pull_from_two_agents(self):
        layout, img = self.image("img", [3 * MiB, 5 * MiB + 7, 1], seed=1)
        self.push(layout, "team/app:v1")
        # <name>:<tag> is an ordinary tag of the origin.
        r = http_request(self.origin.port, "GET", "/tags/team/app:v1")
        self.assertEqual(r.text().strip(), img.manifest_digest)
        for i, peer in enumerate(self.peers):
            out = os.path.join(self.tmp, f"out{i}")
            self.pull(peer, "team/app:v1", f"dir:{out}")
            self.assert_dir_copy(out, img)
        # The layers came through the swarm and stay cached on both agents.
        for peer in self.peers:
            for d in img.layer_digests:
                r = http_request(peer.port, "HEAD", f"/blobs/{d}")
                self.assertEqual(r.status, 200)
        # A second push of the same image uploads nothing (every blob is found by HEAD).
        before = self.origin.metrics().sum("shoal_http_requests_total", method="PATCH")
        self.push(layout, "team/app:v2")
        self.assertEqual(self.origin.metrics().sum("shoal_http_requests_total", method="PATCH"), before)

    def test_multi_arch_index_round_trips(self):
        layout = os.path.join(self.tmp, "multi")
        multi = oci_image.make_multiarch(layout, [2 * MiB, 1 * MiB], seed=3)
        self.push(layout, "team/multi:v1", "--all")
        out = os.path.join(self.tmp, "multi-out")
        self.pull(self.peers[1], "team/multi:v1", f"oci:{out}:copy", "--all")
        with open(os.path.join(out, "index.json")) as f:
            self.assertEqual(json.load(f)["manifests"][0]["digest"], multi.index_digest)
        for img in multi.manifests:
            for d in [img.manifest_digest, img.config_digest] + img.layer_digests:
                path = os.path.join(out, "blobs", "sha256", d.split(":")[1])
                with open(path, "rb") as f:
                    self.assertEqual(sha256(f.read()), d)
        raw = self.skopeo("inspect", "--raw", "--tls-verify=false",
                          f"docker://{HOST}:{self.peers[0].port}/team/multi:v1").stdout
        self.assertEqual(sha256(raw.encode()), multi.index_digest)
        self.assertEqual(json.loads(raw)["mediaType"], OCI_INDEX)

    def test_inspect_against_an_agent(self):
        layout, img = self.image("img", [1 * MiB], seed=5)
        for tag in ("v1", "v2", "latest"):
            self.push(layout, f"team/app:{tag}")
        r = self.skopeo("inspect", "--tls-verify=false", f"docker://{HOST}:{self.peers[0].port}/team/app:v2")
        info = json.loads(r.stdout)
        self.assertEqual(info["Digest"], img.manifest_digest)
        self.assertEqual(sorted(info["RepoTags"]), ["latest", "v1", "v2"])
        self.assertEqual(info["Layers"], img.layer_digests)
        self.assertEqual(info["Architecture"], "amd64")

    def test_push_needs_the_token(self):
        layout, _ = self.image("img", [64 * 1024], seed=7)
        r = self.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest",
                        f"docker://{HOST}:{self.origin.port}/team/app:v1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unauthorized", r.stderr.lower())
        r = self.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "shoal:wrong",
                        f"oci:{layout}:latest", f"docker://{HOST}:{self.origin.port}/team/app:v1",
                        check=False)
        self.assertNotEqual(r.returncode, 0)
        # The ping tells clients to send Basic credentials; Bearer works as well.
        r = http_request(self.origin.port, "GET", "/v2/")
        self.assertEqual(r.status, 401)
        self.assertTrue(r.header("WWW-Authenticate").startswith("Basic"))
        self.assert_oci_error(r, 401, "UNAUTHORIZED")
        self.assertEqual(http_request(self.origin.port, "GET", "/v2/",
                                      headers={"Authorization": f"Bearer {TOKEN}"}).status, 200)
        self.assert_oci_error(self.origin_req("POST", "/v2/team/app/blobs/uploads/", auth=False),
                              401, "UNAUTHORIZED")
        r = http_request(self.origin.port, "POST", "/v2/team/app/blobs/uploads/",
                         headers={"Authorization": basic("wrong")})
        self.assert_oci_error(r, 403, "DENIED")
        self.assertEqual(self.origin.metrics().value("shoal_store_blobs", 0), 0)

    # -- the push protocol, request by request --------------------------------------

    def test_chunked_upload(self):
        data = make_bytes(300_000, seed=9)
        r = self.origin_req("POST", "/v2/team/app/blobs/uploads/")
        self.assertEqual(r.status, 202)
        location = r.header("Location")
        self.assertTrue(location.startswith("/v2/team/app/blobs/uploads/"))
        self.assertEqual(r.header("Range"), "0-0")
        r = self.origin_req("PATCH", location, body=data[:100_000],
                            headers={"Content-Range": "0-99999", "Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 202, r.text())
        self.assertEqual(r.header("Range"), "0-99999")
        # A chunk that does not start at the offset: 416, and the offset to resume from.
        r = self.origin_req("PATCH", location, body=data[150_000:200_000],
                            headers={"Content-Range": "150000-199999"})
        self.assert_oci_error(r, 416, "BLOB_UPLOAD_INVALID")
        self.assertEqual(r.header("Range"), "0-99999")
        r = self.origin_req("GET", location)
        self.assertEqual((r.status, r.header("Range")), (204, "0-99999"))
        r = self.origin_req("PATCH", location, body=data[100_000:250_000],
                            headers={"Content-Range": "100000-249999"})
        self.assertEqual(r.header("Range"), "0-249999")
        # The last chunk rides on the PUT that commits.
        r = self.origin_req("PUT", f"{location}?digest={sha256(data)}", body=data[250_000:])
        self.assertEqual(r.status, 201, r.text())
        self.assertEqual(r.header("Docker-Content-Digest"), sha256(data))
        self.assertEqual(r.header("Location"), f"/v2/team/app/blobs/{sha256(data)}")
        r = http_request(self.origin.port, "HEAD", f"/v2/team/app/blobs/{sha256(data)}")
        self.assertEqual((r.status, r.header("Content-Length")), (200, str(len(data))))
        self.assert_oci_error(self.origin_req("GET", location), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_wrong_digest_stores_nothing(self):
        data = make_bytes(50_000, seed=11)
        wrong = sha256(b"something else")
        r = self.origin_req("POST", f"/v2/team/app/blobs/uploads/?digest={wrong}", body=data)
        self.assert_oci_error(r, 400, "DIGEST_INVALID")
        r = self.origin_req("POST", "/v2/team/app/blobs/uploads/")
        r = self.origin_req("PUT", f"{r.header('Location')}?digest={wrong}", body=data)
        self.assert_oci_error(r, 400, "DIGEST_INVALID")
        r = self.origin_req("PUT", f"/v2/team/app/blobs/uploads/{'0' * 32}?digest=sha256:nothex", body=b"")
        self.assert_oci_error(r, 400, "DIGEST_INVALID")
        for d in (wrong, sha256(data)):
            self.assert_oci_error(http_request(self.origin.port, "GET", f"/v2/team/app/blobs/{d}"),
                                  404, "BLOB_UNKNOWN")
        self.assertEqual(self.origin.metrics().value("shoal_store_blobs", 0), 0)

    def test_mount_answered_or_declined(self):
        d = self.upload_blob("team/one", make_bytes(10_000, seed=13))
        r = self.origin_req("POST", f"/v2/team/two/blobs/uploads/?mount={d}&from=team/one")
        self.assertEqual((r.status, r.header("Location")), (201, f"/v2/team/two/blobs/{d}"))
        self.assertEqual(r.header("Docker-Content-Digest"), d)
        absent = sha256(b"absent")
        r = self.origin_req("POST", f"/v2/team/two/blobs/uploads/?mount={absent}&from=team/one")
        self.assertEqual(r.status, 202)
        self.assertIn("/blobs/uploads/", r.header("Location"))

    def manifest_doc(self, config, layers, media_type=OCI_MANIFEST):
        desc = lambda d, n, t: {"mediaType": t, "digest": d, "size": n}
        return json.dumps({
            "schemaVersion": 2, "mediaType": media_type,
            "config": desc(config[0], config[1], "application/vnd.oci.image.config.v1+json"),
            "layers": [desc(d, n, "application/vnd.oci.image.layer.v1.tar+gzip") for d, n in layers],
        }).encode()

    def test_manifest_checks(self):
        cfg = b'{"architecture":"amd64","os":"linux"}'
        layer = make_bytes(20_000, seed=15)
        cfg_d, layer_d = self.upload_blob("team/app", cfg), self.upload_blob("team/app", layer)
        missing = sha256(b"never pushed")
        put = lambda ref, body, ct=OCI_MANIFEST: self.origin_req(
            "PUT", f"/v2/team/app/manifests/{ref}", body=body, headers={"Content-Type": ct})
        # A layer that was never pushed.
        r = put("v1", self.manifest_doc((cfg_d, len(cfg)), [(layer_d, len(layer)), (missing, 5)]))
        self.assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertIn(missing, r.text())
        self.assert_oci_error(put("v1", b"{not json"), 400, "MANIFEST_INVALID")
        good = self.manifest_doc((cfg_d, len(cfg)), [(layer_d, len(layer))])
        self.assert_oci_error(put("v1", good, ct=OCI_INDEX), 400, "MANIFEST_INVALID")
        self.assert_oci_error(put(sha256(b"other"), good), 400, "DIGEST_INVALID")
        self.assert_oci_error(put("-bad", good), 400, "TAG_INVALID")
        # Nothing above created the repository.
        self.assert_oci_error(http_request(self.origin.port, "GET", "/v2/team/app/tags/list"),
                              404, "NAME_UNKNOWN")
        r = put("v1", good)
        self.assertEqual((r.status, r.header("Docker-Content-Digest")), (201, sha256(good)))
        self.assertEqual(r.header("Location"), f"/v2/team/app/manifests/{sha256(good)}")
        self.assertEqual(put(sha256(good), good).status, 201)
        for server in (self.origin, self.peers[0]):
            for ref in ("v1", sha256(good)):
                r = http_request(server.port, "GET", f"/v2/team/app/manifests/{ref}")
                self.assertEqual((r.status, r.body), (200, good))
                self.assertEqual(r.header("Content-Type"), OCI_MANIFEST)
                self.assertEqual(r.header("Docker-Content-Digest"), sha256(good))
            r = http_request(server.port, "HEAD", "/v2/team/app/manifests/v1")
            self.assertEqual((r.status, r.header("Content-Length")), (200, str(len(good))))
            self.assert_oci_error(http_request(server.port, "GET", "/v2/team/app/manifests/v9"),
                                  404, "MANIFEST_UNKNOWN")
            self.assert_oci_error(http_request(server.port, "GET", "/v2/team/nope/manifests/v1"),
                                  404, "NAME_UNKNOWN")
            self.assert_oci_error(http_request(server.port, "GET", "/v2/Team/app/manifests/v1"),
                                  400, "NAME_INVALID")
            self.assert_oci_error(http_request(server.port, "GET", f"/v2/team/app/blobs/{missing}"),
                                  404, "BLOB_UNKNOWN")

    def test_tag_list_pagination(self):
        cfg = b"{}"
        cfg_d = self.upload_blob("team/app", cfg)
        body = self.manifest_doc((cfg_d, len(cfg)), [])
        tags = ["a", "b", "c", "d", "e"]
        for t in reversed(tags):
            r = self.origin_req("PUT", f"/v2/team/app/manifests/{t}", body=body,
                                headers={"Content-Type": OCI_MANIFEST})
            self.assertEqual(r.status, 201)
        for server in (self.origin, self.peers[1]):
            got, path = [], "/v2/team/app/tags/list?n=2"
            while path:
                r = http_request(server.port, "GET", path)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json()["name"], "team/app")
                got += r.json()["tags"]
                link = r.header("Link")
                path = link[1:link.index(">")] if link else None
            self.assertEqual(got, tags)
            r = http_request(server.port, "GET", "/v2/team/app/tags/list")
            self.assertEqual(r.json()["tags"], tags)

    def test_agent_takes_no_pushes(self):
        peer = self.peers[0]
        r = http_request(peer.port, "GET", "/v2/")
        self.assertEqual((r.status, r.header("Docker-Distribution-API-Version")), (200, "registry/2.0"))
        for method, path in (("POST", "/v2/team/app/blobs/uploads/"),
                             ("PUT", "/v2/team/app/manifests/v1")):
            self.assert_oci_error(http_request(peer.port, method, path, body=b"{}"),
                                  405, "UNSUPPORTED")

    def test_agent_streams_to_a_client_asking_connection_close(self):
        """Regression: a streamed body (a blob still arriving from the swarm) was cut
        after the head when the request said Connection: close (skopeo does)."""
        d = self.upload_blob("team/app", make_bytes(6 * MiB, seed=17))
        self.wait_seeded(1)
        conn = http.client.HTTPConnection(HOST, self.peers[0].port, timeout=60)
        conn.request("GET", f"/v2/team/app/blobs/{d}", headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        self.assertEqual((resp.status, len(body)), (200, 6 * MiB))
        self.assertEqual(sha256(body), d)


if __name__ == "__main__":
    unittest.main()
