"""Content lifecycle (issue 19, item 4): OCI deletes of manifests and blobs, the
referrers API, and garbage collection: a deleted tag's unique blobs leave the origin
and an agent's cache after the grace period while shared ones stay, a dry run removes
nothing, and pushes racing a collection lose no blob."""

import hashlib
import json
import os
import threading
import time

from peer_harness import PeerTestCase
from shoal_harness import MiB, blob_path, http_request, make_bytes, wait_until

TOKEN = "gc-token-0123456789abcdef"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
GRACE_S = 2


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_of(config, layers, subject=None, artifact_type=None, annotations=None):
    """An OCI image manifest (bytes) of (digest, size) pairs."""
    doc = {"schemaVersion": 2, "mediaType": MANIFEST,
           "config": {"mediaType": config[2] if len(config) > 2 else
                      "application/vnd.oci.image.config.v1+json",
                      "digest": config[0], "size": config[1]},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                       "digest": d, "size": n} for d, n in layers]}
    if subject:
        doc["subject"] = {"mediaType": MANIFEST, "digest": subject[0], "size": subject[1]}
    if artifact_type:
        doc["artifactType"] = artifact_type
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc).encode()


class Gc(PeerTestCase):
    def setUp(self):
        super().setUp()
        token_file = os.path.join(self.tmp, "tokens")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.start_cluster(peers=1, origin_args=("--token-file", token_file,
                                                  "--gc-grace", f"{GRACE_S}s"),
                           peer_args=("--deletions-interval", "200ms"))

    # -- helpers ----------------------------------------------------------------------

    def req(self, method, path, body=None, headers=None, auth=True, port=None):
        h = dict(headers or {})
        if auth:
            h["Authorization"] = f"Bearer {TOKEN}"
        return http_request(port or self.origin.port, method, path, body=body, headers=h)

    def upload(self, repo, data):
        r = self.req("POST", f"/v2/{repo}/blobs/uploads/?digest={sha256(data)}", body=data)
        self.assertEqual(r.status, 201, r.text())
        return sha256(data), len(data)

    def put_manifest(self, repo, ref, body):
        r = self.req("PUT", f"/v2/{repo}/manifests/{ref}", body=body,
                     headers={"Content-Type": MANIFEST})
        self.assertEqual(r.status, 201, r.text())
        return r

    def push_image(self, repo, tag, config, layers):
        blobs = [self.upload(repo, b) for b in [config] + layers]
        body = manifest_of(blobs[0], blobs[1:])
        self.put_manifest(repo, tag, body)
        return sha256(body), [d for d, _ in blobs]

    def gc(self, dry_run=False):
        r = self.req("POST", "/gc" + ("?dry_run=1" if dry_run else ""))
        self.assertEqual(r.status, 200, r.text())
        return r.json()

    def assert_oci_error(self, r, status, code):
        self.assertEqual(r.status, status, r.text())
        self.assertEqual(r.json()["errors"][0]["code"], code, r.text())

    def origin_holds(self, d):
        return self.req("HEAD", f"/blobs/{d}", auth=False).status == 200

    # -- garbage collection -----------------------------------------------------------

    def test_a_deleted_tags_unique_blobs_go_and_shared_ones_stay(self):
        shared = make_bytes(MiB, seed=1)
        unique_a, unique_b = make_bytes(MiB + 3, seed=2), make_bytes(MiB + 5, seed=3)
        m_a, (config_a, _, layer_a) = self.push_image("team/app", "v1", b'{"a":1}',
                                                      [shared, unique_a])
        m_b, (config_b, shared_d, layer_b) = self.push_image("team/app", "v2", b'{"b":2}',
                                                             [shared, unique_b])
        agent = self.peers[0]
        for d, data in ((layer_a, unique_a), (shared_d, shared)):
            r = http_request(agent.port, "GET", f"/blobs/{d}")
            self.assertEqual((r.status, r.body), (200, data))
        self.assertTrue(os.path.exists(blob_path(agent.data_dir, layer_a)))

        r = self.req("DELETE", f"/v2/team/app/manifests/{m_a}")
        self.assertEqual(r.status, 202, r.text())
        self.assert_oci_error(self.req("GET", f"/v2/team/app/manifests/{m_a}"), 404,
                              "MANIFEST_UNKNOWN")
        self.assert_oci_error(self.req("GET", "/v2/team/app/manifests/v1"), 404,
                              "MANIFEST_UNKNOWN")
        self.assertEqual(self.req("GET", "/v2/team/app/tags/list").json()["tags"], ["v2"])

        # Within the grace period nothing is collectable yet.
        self.assertEqual(self.gc(dry_run=True)["removed"], [])
        time.sleep(GRACE_S + 0.5)
        unique = {m_a, config_a, layer_a}
        dry = self.gc(dry_run=True)
        self.assertEqual(set(dry["removed"]), unique)
        self.assertTrue(all(self.origin_holds(d) for d in unique))

        real = self.gc()
        self.assertEqual(set(real["removed"]), unique)
        self.assertEqual(real["bytes"], len(unique_a) + len(b'{"a":1}') +
                         len(manifest_of((config_a, 7), [(shared_d, MiB), (layer_a, MiB + 3)])))
        self.assertFalse(any(self.origin_holds(d) for d in unique))
        for d in (m_b, config_b, shared_d, layer_b):
            self.assertTrue(self.origin_holds(d), d)
        self.assertEqual(self.gc()["removed"], [])

        # The agent drops the collected layer from its cache; the shared one stays
        # and the remaining image pulls whole through it.
        self.assertTrue(wait_until(lambda: not os.path.exists(blob_path(agent.data_dir, layer_a)),
                                   timeout=10), "the agent kept a collected blob")
        self.assertTrue(os.path.exists(blob_path(agent.data_dir, shared_d)))
        for d, data in ((shared_d, shared), (layer_b, unique_b)):
            r = http_request(agent.port, "GET", f"/blobs/{d}")
            self.assertEqual((r.status, sha256(r.body)), (200, sha256(data)))
        r = http_request(agent.port, "GET", f"/v2/team/app/manifests/v2")
        self.assertEqual((r.status, sha256(r.body)), (200, m_b))

        m = self.origin.metrics()
        self.assertEqual(m.value("shoal_origin_gc_removed_blobs_total"), 3)
        self.assertGreaterEqual(m.value("shoal_origin_gc_runs_total"), 4)
        self.assertEqual(self.req("GET", "/deletions?since=0").json()["next"], 3)

    def test_pushes_racing_collections_lose_no_blob(self):
        # An old blob nothing refers to: collectable, until a push refers to it.
        old = make_bytes(64 * 1024, seed=9)
        old_d, old_n = self.upload("race/app", old)
        time.sleep(GRACE_S + 0.5)
        acknowledged, errors = [], []
        stop = threading.Event()

        def pusher():
            i = 0
            while not stop.is_set() and i < 40:
                layer = make_bytes(32 * 1024, seed=1000 + i)
                config = json.dumps({"i": i}).encode()
                try:
                    blobs = [self.upload("race/app", config), self.upload("race/app", layer)]
                    body = manifest_of(blobs[0], [blobs[1], (old_d, old_n)])
                    r = self.req("PUT", f"/v2/race/app/manifests/t{i}", body=body,
                                 headers={"Content-Type": MANIFEST})
                    if r.status == 400 and "MANIFEST_BLOB_UNKNOWN" in r.text():
                        # The collection took the old blob first: a client uploads again.
                        self.upload("race/app", old)
                        continue
                    if r.status != 201:
                        errors.append(r.text())
                        return
                    acknowledged.append((sha256(body), [(config, blobs[0][0]),
                                                        (layer, blobs[1][0]), (old, old_d)]))
                    i += 1
                except AssertionError as e:
                    errors.append(str(e))
                    return

        t = threading.Thread(target=pusher)
        t.start()
        runs = 0
        try:
            while t.is_alive() and runs < 200:
                self.gc()
                runs += 1
        finally:
            stop.set()
            t.join(60)
        self.assertEqual(errors, [])
        self.assertGreater(runs, 3)
        self.assertEqual(len(acknowledged), 40)
        time.sleep(GRACE_S + 0.5)  # past the grace: only the references keep them now
        self.gc()
        for manifest, blobs in acknowledged:
            r = self.req("GET", f"/v2/race/app/manifests/{manifest}")
            self.assertEqual((r.status, sha256(r.body)), (200, manifest))
            for data, d in blobs:
                r = self.req("GET", f"/blobs/{d}", auth=False)
                self.assertEqual((r.status, sha256(r.body)), (200, sha256(data)), d)

    # -- referrers ----------------------------------------------------------------------

    def test_referrers_are_listed_and_filtered_by_artifact_type(self):
        subject, _ = self.push_image("team/signed", "v1", b'{"s":1}', [make_bytes(1000, seed=4)])
        subject_size = len(self.req("GET", f"/v2/team/signed/manifests/{subject}").body)
        empty = self.upload("team/signed", b"{}")
        sig_blob = self.upload("team/signed", b"signature bytes")
        sig = manifest_of(empty + (EMPTY,), [sig_blob], subject=(subject, subject_size),
                          artifact_type="application/example.sig",
                          annotations={"org.example.signer": "ci"})
        r = self.put_manifest("team/signed", sha256(sig), sig)
        self.assertEqual(r.header("OCI-Subject"), subject)
        sbom = manifest_of(empty + ("application/example.sbom",), [sig_blob],
                           subject=(subject, subject_size))
        self.put_manifest("team/signed", sha256(sbom), sbom)

        r = self.req("GET", f"/v2/team/signed/referrers/{subject}", auth=False)
        self.assertEqual(r.status, 200, r.text())
        self.assertTrue(r.header("Content-Type").startswith(INDEX))
        self.assertIsNone(r.header("OCI-Filters-Applied"))
        index = r.json()
        self.assertEqual((index["schemaVersion"], index["mediaType"]), (2, INDEX))
        by_digest = {m["digest"]: m for m in index["manifests"]}
        self.assertEqual(set(by_digest), {sha256(sig), sha256(sbom)})
        self.assertEqual(by_digest[sha256(sig)],
                         {"mediaType": MANIFEST, "digest": sha256(sig), "size": len(sig),
                          "artifactType": "application/example.sig",
                          "annotations": {"org.example.signer": "ci"}})
        self.assertEqual(by_digest[sha256(sbom)]["artifactType"], "application/example.sbom")

        r = self.req("GET", f"/v2/team/signed/referrers/{subject}?artifactType="
                            "application/example.sig", auth=False)
        self.assertEqual(r.header("OCI-Filters-Applied"), "artifactType")
        self.assertEqual([m["digest"] for m in r.json()["manifests"]], [sha256(sig)])

        # Deleting a referrer takes it off the list; an unknown subject has none.
        self.assertEqual(self.req("DELETE", f"/v2/team/signed/manifests/{sha256(sig)}").status, 202)
        r = self.req("GET", f"/v2/team/signed/referrers/{subject}", auth=False)
        self.assertEqual([m["digest"] for m in r.json()["manifests"]], [sha256(sbom)])
        r = self.req("GET", f"/v2/team/signed/referrers/{sha256(b'nothing')}", auth=False)
        self.assertEqual((r.status, r.json()["manifests"]), (200, []))
        self.assert_oci_error(self.req("GET", "/v2/team/signed/referrers/sha256:zz", auth=False),
                              400, "DIGEST_INVALID")

    # -- the delete routes ----------------------------------------------------------------

    def test_delete_routes_answer_per_the_spec_and_need_the_token(self):
        m, (config, layer) = self.push_image("team/del", "v1", b'{"d":1}', [b"layer"])
        for path in (f"/v2/team/del/manifests/{m}", f"/v2/team/del/blobs/{layer}",
                     f"/blobs/{layer}", "/gc"):
            method = "POST" if path == "/gc" else "DELETE"
            self.assertEqual(self.req(method, path, auth=False).status, 401, path)
        self.assertEqual(self.req("DELETE", "/v2/team/del/manifests/v1").status, 202)  # the tag
        self.assert_oci_error(self.req("DELETE", "/v2/team/del/manifests/v1"), 404,
                              "MANIFEST_UNKNOWN")
        self.assertEqual(self.req("GET", f"/v2/team/del/manifests/{m}").status, 200)
        self.assertEqual(self.req("DELETE", f"/v2/team/del/manifests/{m}").status, 202)
        self.assert_oci_error(self.req("DELETE", f"/v2/team/del/manifests/{m}"), 404,
                              "MANIFEST_UNKNOWN")
        self.assert_oci_error(self.req("DELETE", "/v2/team/del/manifests/sha256:12"), 400,
                              "DIGEST_INVALID")
        self.assertEqual(self.req("DELETE", f"/v2/team/del/blobs/{layer}").status, 202)
        self.assert_oci_error(self.req("GET", f"/v2/team/del/blobs/{layer}"), 404, "BLOB_UNKNOWN")
        self.assert_oci_error(self.req("DELETE", f"/v2/team/del/blobs/{layer}"), 404,
                              "BLOB_UNKNOWN")
        self.assertEqual(self.req("DELETE", f"/blobs/{config}").status, 204)
        deleted = self.req("GET", "/deletions?since=0").json()
        self.assertEqual((deleted["digests"], deleted["next"]), ([layer, config], 2))
        self.assertEqual(self.req("GET", "/deletions?since=1").json()["digests"], [config])


if __name__ == "__main__":
    import unittest
    unittest.main()
