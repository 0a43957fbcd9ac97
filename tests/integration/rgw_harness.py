"""Ceph's RADOS Gateway for the S3 backend's tests: tests/support/rgw.sh starts a
one-node cluster (memstore OSD, no mgr) and radosgw on a loopback port under the test's
temporary directory; this module drives it from Python, makes buckets and reads them
back with boto3, an S3 client independent of Shoal's.

    class T(RgwMixin, unittest.TestCase):
        def test_x(self):
            rgw = self.start_rgw()            # stopped in cleanup
            rgw.create_bucket("blobs")
            cfg = rgw.origin_config("blobs", self.tmp)   # s3_* keys for an origin
            ...
            rgw.object_sha256("blobs", "blobs/sha256/<hex>")
            rgw.gateway_stop(); rgw.gateway_start()        # an outage, data kept
"""

import hashlib
import os
import shutil
import subprocess
import tempfile

from shoal_harness import missing_tool

RGW_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support", "rgw.sh")
TOOLS = (("radosgw", "radosgw"), ("ceph-mon", "ceph-mon"), ("ceph-osd", "ceph-osd"),
         ("radosgw-admin", "radosgw"), ("monmaptool", "ceph-common"))


def require_rgw():
    """Skips the running test without Ceph's daemons or boto3 (fails under CI=true)."""
    for tool, package in TOOLS:
        if shutil.which(tool) is None:
            missing_tool(f"{tool} (Debian package {package})")
    try:
        import boto3  # noqa: F401
    except ImportError:
        missing_tool("boto3 (Debian package python3-boto3)")


class Rgw:
    """One cluster and gateway. endpoint, access_key, secret_key, region once started."""

    def __init__(self, directory):
        self.dir = directory
        self.endpoint = self.access_key = self.secret_key = None
        self.region = "us-east-1"
        self._client = None

    def _run(self, action, timeout=90):
        return subprocess.run([RGW_SH, action, self.dir], capture_output=True, text=True,
                              timeout=timeout)

    def start(self):
        done = self._run("start")
        if done.returncode != 0:
            raise AssertionError(f"rgw.sh start failed:\n{done.stdout}{done.stderr}")
        env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        self.endpoint = env["S3_ENDPOINT"]
        self.access_key = env["S3_ACCESS_KEY"]
        self.secret_key = env["S3_SECRET_KEY"]
        self.region = env["S3_REGION"]
        return self

    def stop(self):
        if os.path.exists(os.path.join(self.dir, "ceph.conf")):
            self._run("stop")

    def gateway_stop(self):
        """Takes the S3 endpoint away; the cluster and its data stay."""
        self._run("gateway-stop")

    def gateway_start(self):
        """Brings the endpoint back on the same port."""
        done = self._run("gateway-start")
        if done.returncode != 0:
            raise AssertionError(f"rgw.sh gateway-start failed:\n{done.stderr}")

    def s3(self):
        """A boto3 client (path-style, checksums only where S3 requires them: RGW 16
        refuses the trailing-checksum uploads current SDKs send by default)."""
        if self._client is None:
            import boto3
            from botocore.config import Config
            options = {"s3": {"addressing_style": "path"}}
            try:
                config = Config(request_checksum_calculation="when_required",
                                response_checksum_validation="when_required", **options)
            except TypeError:  # botocore before 1.36 has neither option
                config = Config(**options)
            self._client = boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                                        aws_access_key_id=self.access_key,
                                        aws_secret_access_key=self.secret_key, config=config)
        return self._client

    def create_bucket(self, name):
        self.s3().create_bucket(Bucket=name)

    def write_credentials(self, path):
        """The s3_credentials file: access key id and secret on two lines."""
        with open(path, "w") as f:
            f.write(f"{self.access_key}\n{self.secret_key}\n")
        return path

    def origin_config(self, bucket, directory, prefix=""):
        """The s3_* keys of an origin writing to `bucket`, credentials in a file."""
        creds = self.write_credentials(os.path.join(directory, "s3-credentials"))
        return {"s3_endpoint": self.endpoint, "s3_bucket": bucket, "s3_region": self.region,
                "s3_prefix": prefix, "s3_credentials": creds}

    def keys(self, bucket, prefix=""):
        out = []
        for page in self.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                        Prefix=prefix):
            out.extend(o["Key"] for o in page.get("Contents", []))
        return out

    def object_sha256(self, bucket, key):
        """Hex SHA-256 of an object as boto3 reads it; None when it does not exist."""
        try:
            body = self.s3().get_object(Bucket=bucket, Key=key)["Body"]
        except self.s3().exceptions.NoSuchKey:
            return None
        h = hashlib.sha256()
        for chunk in body.iter_chunks(1 << 20):
            h.update(chunk)
        return h.hexdigest()


def blob_key(digest, prefix=""):
    """The object key of a blob ("sha256:<hex>" or bare hex) in the bucket."""
    return prefix + "blobs/sha256/" + digest.split(":")[-1]


class RgwMixin:
    def start_rgw(self):
        require_rgw()
        directory = tempfile.mkdtemp(prefix="shoal-rgw-")
        os.rmdir(directory)  # rgw.sh wants to make it
        rgw = Rgw(directory)
        self.addCleanup(rgw.stop)
        return rgw.start()
