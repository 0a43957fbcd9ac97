"""Builds OCI image layouts on disk, for tests and benchmarks that push images with skopeo.

Real registries' images are too large and too slow to fetch in a test; these are made locally,
deterministically from a seed, with layers of pseudo-random bytes so that gzip cannot shrink
them and a "1 GiB image" really moves about 1 GiB. A layer is streamed tar -> gzip -> file while
both of its digests are computed, so a 1 GiB image never sits in memory. Standard library only.

    image = make_image("/tmp/img", [8 << 20, 4 << 20])   # then: skopeo copy oci:/tmp/img:latest ...

As a script: python3 oci_image.py DIR SIZE_MIB [LAYERS] [--multiarch]
"""

import dataclasses
import gzip
import hashlib
import json
import os
import random
import sys
import tarfile
from pathlib import Path

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CHUNK = 1 << 20   # randbytes and tar copy unit: large enough that per-call overhead vanishes
# Deflate dominates generation time (~20 s of ~26 s for 1 GiB at level 1); level 0 writes stored
# blocks, still valid gzip of about the same size, about five times faster. Tests may lower it.
GZIP_LEVEL = 1


@dataclasses.dataclass
class Image:
    """One single-platform image; digests are "sha256:<hex>". total_bytes sums its distinct blobs
    (manifest included), i.e. what a push of it into an empty registry moves."""
    manifest_digest: str
    config_digest: str
    layer_digests: list
    total_bytes: int
    manifest_size: int = 0


@dataclasses.dataclass
class MultiArch:
    """An image index and its per-platform images; total_bytes sums every distinct blob, index
    included (a blob shared by two platforms, e.g. an empty layer, counts once)."""
    index_digest: str
    manifests: list
    platforms: tuple
    total_bytes: int = 0


class _HashingWriter:
    """Passes bytes on to `target` while hashing and counting them (tarfile also needs tell())."""

    def __init__(self, target):
        self.target, self.hash, self.size = target, hashlib.sha256(), 0

    def write(self, data):
        self.hash.update(data)
        self.size += len(data)
        return self.target.write(data)

    def tell(self):
        return self.size

    def digest(self):
        return "sha256:" + self.hash.hexdigest()


class _RandomReader:
    """A file of pseudo-random bytes for tarfile.addfile (which reads exactly what it copies)."""

    def __init__(self, rng):
        self.rng = rng

    def read(self, n):
        return self.rng.randbytes(n)


def _blob_dir(layout_dir):
    path = Path(layout_dir) / "blobs" / "sha256"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_json_blob(layout_dir, obj):
    """Writes obj as compact JSON, digest over exactly the bytes on disk. Returns a descriptor."""
    data = json.dumps(obj, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (_blob_dir(layout_dir) / digest[7:]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _write_layer(layout_dir, size, seed_key, name):
    """Streams a gzip'd tar holding one file of `size` random bytes into a blob.
    Returns (compressed digest, compressed size, diff_id)."""
    blobs = _blob_dir(layout_dir)
    partial = blobs / f".partial-{os.getpid()}-{name}"
    with open(partial, "wb") as raw:
        compressed = _HashingWriter(raw)
        # mtime=0 and no file name in the gzip header: the same seed gives the same digest.
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=compressed, compresslevel=GZIP_LEVEL,
                           mtime=0)
        uncompressed = _HashingWriter(gz)
        with tarfile.open(fileobj=uncompressed, mode="w", format=tarfile.PAX_FORMAT,
                          copybufsize=CHUNK) as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = size, 0o644, 0
            tar.addfile(info, _RandomReader(random.Random(seed_key)))
        gz.close()   # does not close `raw`; flushes the gzip trailer through `compressed`
    digest = compressed.digest()
    os.replace(partial, blobs / digest[7:])
    return digest, compressed.size, uncompressed.digest()


def _build_image(layout_dir, layer_sizes, seed_key, arch, os_name):
    """Writes layers, config and manifest blobs (no index.json).
    Returns (Image, manifest descriptor, {digest: size} of every blob it wrote)."""
    layers, diff_ids = [], []
    for i, size in enumerate(layer_sizes):
        digest, blob_size, diff_id = _write_layer(layout_dir, size, f"{seed_key}/{i}",
                                                  f"layer{i}.bin")
        layers.append({"mediaType": LAYER, "digest": digest, "size": blob_size})
        diff_ids.append(diff_id)
    config = _write_json_blob(layout_dir, {
        "architecture": arch, "os": os_name, "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    manifest = _write_json_blob(layout_dir, {
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, **config}, "layers": layers})
    sizes = {blob["digest"]: blob["size"] for blob in (manifest, config, *layers)}
    image = Image(manifest["digest"], config["digest"], [layer["digest"] for layer in layers],
                  sum(sizes.values()), manifest["size"])
    return image, {"mediaType": MANIFEST, **manifest}, sizes


def _write_layout(layout_dir, descriptor):
    """Writes oci-layout and an index.json naming `descriptor` "latest" (for oci:DIR:latest)."""
    root = Path(layout_dir)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    entry = {**descriptor, "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [entry]}
    (root / "index.json").write_text(json.dumps(index, separators=(",", ":")))


def make_image(layout_dir, layer_sizes, seed=0, arch="amd64", os_name="linux"):
    """Creates an OCI image layout at layout_dir (oci-layout file, index.json, blobs/sha256/...)
    holding one single-platform image: one gzip-compressed tar layer per entry of layer_sizes
    (each layer holds one file of that many pseudo-random bytes from `seed`, so gzip cannot
    shrink it much), an OCI image config (architecture/os/rootfs.diff_ids correct: diff_id is the
    sha256 of the uncompressed tar), and an OCI image manifest. index.json names the manifest
    with annotation org.opencontainers.image.ref.name = "latest".
    Returns an Image: manifest_digest ("sha256:<hex>"), config_digest, layer_digests (list,
    compressed blob digests), total_bytes (sum of blob sizes, manifest included), manifest_size.
    Layer i's bytes depend only on (seed, i), so equal seeds give identical digests. Calling it
    again on the same directory adds blobs and re-points "latest" at the new image."""
    image, descriptor, _ = _build_image(layout_dir, layer_sizes, str(seed), arch, os_name)
    _write_layout(layout_dir, descriptor)
    return image


def make_multiarch(layout_dir, layer_sizes, seed=0,
                   platforms=(("linux", "amd64"), ("linux", "arm64"))):
    """One OCI image index (application/vnd.oci.image.index.v1+json) with one image manifest per
    platform (different layer bytes per platform: derive the seed), all blobs in one layout; the
    layout's index.json names the image index with ref.name "latest". Returns a MultiArch object:
    index_digest, manifests (list of Image as above, in platform order), platforms, total_bytes."""
    images, entries, sizes = [], [], {}
    for os_name, arch in platforms:
        image, descriptor, blobs = _build_image(layout_dir, layer_sizes, f"{seed}/{os_name}/{arch}",
                                                arch, os_name)
        images.append(image)
        sizes.update(blobs)
        entries.append({**descriptor, "platform": {"architecture": arch, "os": os_name}})
    index = _write_json_blob(layout_dir,
                             {"schemaVersion": 2, "mediaType": INDEX, "manifests": entries})
    _write_layout(layout_dir, {"mediaType": INDEX, **index})
    return MultiArch(index["digest"], images, tuple(platforms), index["size"] + sum(sizes.values()))


def split_sizes(total_bytes, layers):
    """Splits total_bytes into `layers` near-equal sizes (the last takes the remainder)."""
    sizes = [total_bytes // layers] * layers
    sizes[-1] += total_bytes % layers
    return sizes


def main(argv):
    args = [a for a in argv if a != "--multiarch"]
    if len(args) not in (2, 3):
        sys.exit("usage: oci_image.py DIR SIZE_MIB [LAYERS] [--multiarch]")
    sizes = split_sizes(int(args[1]) << 20, int(args[2]) if len(args) == 3 else 4)
    if "--multiarch" in argv:
        print(make_multiarch(args[0], sizes).index_digest)
    else:
        print(make_image(args[0], sizes).manifest_digest)


if __name__ == "__main__":
    main(sys.argv[1:])
