"""Tags in a ring of origins (issue 18, item 5): a tag written through any origin reads
back through every origin, If-Match / If-None-Match: * preconditions (412), racing
If-Match writers of which exactly one wins, tags with one origin of three down, and an
OCI manifest pushed by tag through one origin resolving through another."""

import json
import os
import shutil
import subprocess
import threading
import unittest

import oci_image
from peer_harness import PeerTestCase
from shoal_harness import (HOST, ShoalTestCase, file_digest, make_bytes, requires_tool,
                           sha256_digest, url_path, wait_until)

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SKOPEO = shutil.which("skopeo")


class RingTags(ShoalTestCase):
    def setUp(self):
        super().setUp()
        self.ring = self.start_ring(3)
        self.wait_all_up()
        self.blobs = [self.push_blob(make_bytes(4000 + i, seed=80 + i)) for i in range(4)]

    def wait_all_up(self):
        self.assertTrue(wait_until(self.ring.all_up, timeout=15), "members see each other up")

    def push_blob(self, data, via=0):
        d = sha256_digest(data)
        r = self.ring[via].request("PUT", f"/blobs/{d}", body=data)
        self.assertIn(r.status, (200, 201), r)
        return d

    def put_tag(self, i, name, digest, headers=None):
        return self.ring[i].request("PUT", f"/tags/{name}", body=digest.encode(), headers=headers)

    def read_tag(self, i, name):
        r = self.ring[i].request("GET", f"/tags/{name}")
        if r.status == 404:
            self.assertError(r, 404, "TAG_UNKNOWN")
            return None
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), f'"{r.text()}"', r)
        return r.text()

    def assert_everywhere(self, name, digest, origins=(0, 1, 2)):
        for i in origins:
            self.assertEqual(self.read_tag(i, name), digest, f"tag {name} through origin {i + 1}")

    def test_a_tag_written_through_one_origin_reads_back_through_every_origin(self):
        a, b = self.blobs[:2]
        for n in range(6):  # several names, so the tags have different first owners
            name = f"release-{n}"
            r = self.put_tag(n % 3, name, a)
            self.assertEqual(r.status, 201, r)
            self.assert_everywhere(name, a)
            r = self.put_tag((n + 1) % 3, name, b)
            self.assertEqual(r.status, 201, r)
            self.assert_everywhere(name, b)
            r = self.ring[(n + 2) % 3].request("DELETE", f"/tags/{name}")
            self.assertEqual(r.status, 204, r)
            self.assert_everywhere(name, None)

    def test_preconditions_answer_412_when_they_do_not_hold(self):
        a, b, c = self.blobs[:3]
        create = {"If-None-Match": "*"}
        self.assertEqual(self.put_tag(0, "app", a, create).status, 201)
        self.assertError(self.put_tag(1, "app", b, create), 412, "PRECONDITION_FAILED")
        wrong = self.put_tag(2, "app", b, {"If-Match": f'"{c}"'})
        body = self.assertError(wrong, 412, "PRECONDITION_FAILED")
        self.assertIn(a, body["message"])
        self.assert_everywhere("app", a)
        self.assertEqual(self.put_tag(2, "app", b, {"If-Match": f'"{a}"'}).status, 201)
        self.assert_everywhere("app", b)
        self.assertError(self.put_tag(0, "missing", b, {"If-Match": f'"{a}"'}), 412,
                         "PRECONDITION_FAILED")
        self.assertError(self.put_tag(0, "app", b, {"If-Match": a}), 400, "BAD_REQUEST")
        r = self.ring[1].request("DELETE", "/tags/app", headers={"If-Match": f'"{a}"'})
        self.assertError(r, 412, "PRECONDITION_FAILED")
        r = self.ring[1].request("DELETE", "/tags/app", headers={"If-Match": f'"{b}"'})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.put_tag(2, "app", c, create).status, 201)  # created again
        self.assert_everywhere("app", c)

    def test_a_tag_to_a_blob_no_origin_holds_is_refused(self):
        r = self.put_tag(1, "nothing", "sha256:" + "cd" * 32)
        self.assertError(r, 404, "BLOB_UNKNOWN")

    def test_two_writers_racing_with_the_same_if_match_exactly_one_wins(self):
        base = self.blobs[0]
        for round_ in range(6):
            name = f"race-{round_}"
            self.assertEqual(self.put_tag(0, name, base).status, 201)
            contenders = [(round_ % 3, self.blobs[1]), ((round_ + 1) % 3, self.blobs[2])]
            results = [None, None]
            go = threading.Barrier(2)

            def write(k):
                i, digest = contenders[k]
                go.wait()
                results[k] = self.put_tag(i, name, digest, {"If-Match": f'"{base}"'})

            threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = sorted(r.status for r in results)
            self.assertEqual(statuses, [201, 412], results)
            winner = contenders[[r.status for r in results].index(201)][1]
            self.assert_everywhere(name, winner)

    def test_tags_read_and_write_with_one_origin_of_three_down(self):
        a, b = self.blobs[:2]
        names = [f"survive-{n}" for n in range(6)]
        for name in names:
            self.assertEqual(self.put_tag(0, name, a).status, 201)
        self.ring.stop(2, graceful=False)
        for name in names:
            self.assert_everywhere(name, a, origins=(0, 1))
            r = self.put_tag(1, name, b, {"If-Match": f'"{a}"'})
            self.assertEqual(r.status, 201, r)
            self.assert_everywhere(name, b, origins=(0, 1))
        # Back up, the stale copies of the restarted origin are never answered.
        self.ring.start(2)
        self.wait_all_up()
        for name in names:
            self.assert_everywhere(name, b)

    def test_tags_with_two_origins_of_three_down_are_refused_with_503(self):
        a = self.blobs[0]
        self.assertEqual(self.put_tag(0, "lonely", a).status, 201)
        self.ring.stop(1, graceful=False)
        self.ring.stop(2, graceful=False)
        r = self.put_tag(0, "lonely", self.blobs[1])
        body = self.assertError(r, 503, "QUORUM_UNAVAILABLE")
        self.assertIn("write_quorum", body["message"])
        self.assertEqual(self.read_tag(0, "lonely"), a)  # reads answer what survives

    # -- OCI --

    def oci_push_blob(self, i, name, data):
        d = sha256_digest(data)
        r = self.ring[i].request("POST", f"/v2/{name}/blobs/uploads/")
        self.assertEqual(r.status, 202, r)
        location = url_path(r.header("Location"))
        r = self.ring[i].request("PUT", f"{location}?digest={d}", body=data)
        self.assertEqual(r.status, 201, r)
        return d, len(data)

    def oci_push_image(self, i, name, tag):
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        layer = make_bytes(30_000, seed=91)
        (cd, cn), (ld, ln) = self.oci_push_blob(i, name, config), self.oci_push_blob(i, name, layer)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                       "size": cn},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld,
                        "size": ln}]}).encode()
        r = self.ring[i].request("PUT", f"/v2/{name}/manifests/{tag}", body=manifest,
                                 headers={"Content-Type": MANIFEST})
        self.assertEqual(r.status, 201, r)
        return manifest, sha256_digest(manifest)

    def test_an_oci_manifest_pushed_by_tag_through_one_origin_resolves_through_the_others(self):
        manifest, digest = self.oci_push_image(0, "team/app", "v1")
        for i in (2, 1):
            r = self.ring[i].request("GET", "/v2/team/app/manifests/v1",
                                     headers={"Accept": MANIFEST})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, manifest)
            self.assertEqual(r.header("Docker-Content-Digest"), digest)
            r = self.ring[i].request("GET", f"/v2/team/app/manifests/{digest}")
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.read_tag(1, "team/app:v1"), digest)
        # With the origin that took the push down, the others still resolve the tag.
        self.ring.stop(0, graceful=False)
        r = self.ring[2].request("GET", "/v2/team/app/manifests/v1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, manifest)
        r = self.ring[1].request("DELETE", "/v2/team/app/manifests/v1")
        self.assertEqual(r.status, 202, r)
        r = self.ring[2].request("GET", "/v2/team/app/manifests/v1")
        self.assertEqual(r.status, 404, r)


@requires_tool(SKOPEO, "skopeo is not installed (scripts/install-deps.sh installs it)")
class RingOciPull(PeerTestCase):
    def skopeo(self, *args):
        policy = os.path.join(self.tmp, "policy.json")
        with open(policy, "w") as f:
            f.write('{"default":[{"type":"insecureAcceptAnything"}]}')
        r = subprocess.run([SKOPEO, "--policy", policy, *args], capture_output=True, text=True,
                           timeout=150, env=dict(os.environ, HOME=self.home))
        self.assertEqual(r.returncode, 0, f"skopeo {' '.join(args)}:\n{r.stderr}")

    def test_skopeo_push_through_one_origin_pull_through_agents_while_another_is_down(self):
        ring = self.start_ring(3, start=False)
        self.tracker = self.start_tracker("--origin", ring.origins_flag())
        for i in range(3):
            ring.start(i, extra_args=["--tracker", f"http://{HOST}:{self.tracker.port}"])
        self.assertTrue(wait_until(ring.all_up, timeout=15))
        layout = os.path.join(self.tmp, "image")
        image = oci_image.make_image(layout, [300_000, 200_000], seed=5)
        self.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest",
                    f"docker://{HOST}:{ring[0].port}/team/app:v1")
        ring.stop(1, graceful=False)
        for n in range(2):
            agent = self.start_peer(f"agent{n}", origin=ring.origins_flag())
            out = os.path.join(self.tmp, f"out{n}")
            self.skopeo("copy", "--src-tls-verify=false",
                        f"docker://{HOST}:{agent.port}/team/app:v1", f"dir:{out}")
            for d in [image.config_digest] + image.layer_digests:
                self.assertEqual(file_digest(os.path.join(out, d.split(":", 1)[1])), d)


if __name__ == "__main__":
    unittest.main()
