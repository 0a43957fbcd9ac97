"""deploy/kubernetes: the manifests render with kustomize, every Shoal container's flags
and config file are accepted by the real binary, and the pieces agree with each other
(ports, the ring's member list, the Redis master name). No cluster runs here: what can be
checked offline is checked."""

import base64
import os
import re
import subprocess
import tempfile
import unittest

from shoal_harness import SHOAL_BIN, require_tool

try:
    import yaml
except ImportError:  # the test fails, never skips, without it
    yaml = None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KUSTOMIZE_DIR = os.path.join(ROOT, "deploy", "kubernetes")


def config_keys(text):
    keys = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            keys[k.strip()] = v.strip()
    return keys


class Deploy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if yaml is None:
            raise AssertionError("the deploy test needs PyYAML (python3 -m pip install pyyaml)")
        kubectl = require_tool("kubectl", "kubernetes-client")
        out = subprocess.run([kubectl, "kustomize", KUSTOMIZE_DIR], capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError("kubectl kustomize failed: " + out.stderr)
        cls.docs = [d for d in yaml.safe_load_all(out.stdout) if d]
        cls.config = next(d for d in cls.docs if d["kind"] == "ConfigMap"
                          and d["metadata"]["name"].startswith("shoal-config"))["data"]
        cls.scripts = next(d for d in cls.docs if d["kind"] == "ConfigMap"
                           and d["metadata"]["name"].startswith("shoal-redis-scripts"))["data"]

    def find(self, kind, name):
        for d in self.docs:
            if d["kind"] == kind and d["metadata"]["name"] == name:
                return d
        self.fail(f"no {kind} {name} in the rendered manifests")

    def shoal_containers(self):
        for d in self.docs:
            if d["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
                continue
            for c in d["spec"]["template"]["spec"]["containers"]:
                if c["image"].split(":")[0].endswith("/shoal"):
                    yield d, c

    def config_of(self, container):
        for a in container["args"]:
            if a.startswith("--config="):
                return os.path.basename(a.split("=", 1)[1])
        self.fail(f"container {container['name']} names no --config")

    def mount(self, workload, container, root):
        """Writes the container's ConfigMap and Secret volumes under `root`; returns
        (mount path, local directory) pairs, longest mount path first."""
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        pairs = []
        for m in container.get("volumeMounts", []):
            v = volumes.get(m["name"], {})  # absent: a volumeClaimTemplate
            if "configMap" in v:
                data = self.find("ConfigMap", v["configMap"]["name"])["data"]
            elif "secret" in v:
                secret = self.find("Secret", v["secret"]["secretName"])["data"]
                data = {k: base64.b64decode(b).decode() for k, b in secret.items()}
            else:
                continue  # a data volume: --check-config never opens it
            local = os.path.join(root, m["name"])
            os.makedirs(local, exist_ok=True)
            for name, text in data.items():
                with open(os.path.join(local, name), "w") as f:
                    f.write(text)
            pairs.append((m["mountPath"], local))
        return sorted(pairs, key=lambda p: -len(p[0]))

    def test_every_shoal_container_is_accepted_by_the_binary(self):
        seen = set()
        for workload, c in self.shoal_containers():
            with tempfile.TemporaryDirectory() as tmp:
                mounts = self.mount(workload, c, tmp)

                def local(text):
                    for path, where in mounts:
                        text = text.replace(path + "/", where + "/")
                    return text
                for _, where in mounts:  # config files name mounted files (token_file)
                    for name in os.listdir(where):
                        with open(os.path.join(where, name)) as f:
                            text = f.read()
                        with open(os.path.join(where, name), "w") as f:
                            f.write(local(text))
                command, *flags = c["args"]
                seen.add(command)
                self.assertIn(self.config_of(c), self.config)
                # $(POD_NAME) is filled in by the kubelet: a pod of this workload.
                env = {e["name"]: workload["metadata"]["name"] + "-0" for e in c.get("env", [])}
                flags = [local(re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], f))
                         for f in flags]
                # --check-config: every key and value checked as at start-up (the
                # ring's members and self, the peer store's URL, the token file ...),
                # without opening a data directory or binding.
                out = subprocess.run([SHOAL_BIN, command, *flags, "--check-config"],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(out.returncode, 0,
                                 f"{workload['metadata']['name']}: {out.stderr.strip()}")
                self.assertEqual(out.stdout.strip().splitlines()[-1],  # after any log lines
                                 f"shoal {command}: configuration OK")
        self.assertEqual(seen, {"origin", "tracker", "peer", "edge"})

    def test_ports_agree_with_the_configured_listen_addresses(self):
        for workload, c in self.shoal_containers():
            listen = config_keys(self.config[self.config_of(c)])["listen"]
            port = int(listen.rsplit(":", 1)[1])
            probes = [c.get(p) for p in ("readinessProbe", "livenessProbe") if c.get(p)]
            self.assertTrue(probes, f"{workload['metadata']['name']} has no probe")
            named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for probe in probes:
                self.assertEqual(probe["httpGet"]["path"], "/health")
                target = probe["httpGet"]["port"]
                self.assertEqual(named.get(target, target), port, workload["metadata"]["name"])

    def test_the_ring_lists_every_origin_pod_by_its_stable_name(self):
        sts = self.find("StatefulSet", "shoal-origin")
        service = sts["spec"]["serviceName"]
        self.assertEqual(self.find("Service", service)["spec"]["clusterIP"], "None")
        members = config_keys(self.config["origin.conf"])["origins"].split(",")
        expected = [f"http://shoal-origin-{i}.{service}:4100" for i in range(sts["spec"]["replicas"])]
        self.assertEqual(members, expected)
        origin_args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertIn("--self=http://$(POD_NAME).shoal-origin:4100", origin_args)
        quorum = int(config_keys(self.config["origin.conf"])["write_quorum"])
        self.assertLessEqual(quorum, int(config_keys(self.config["origin.conf"])["replicas"]))

    def test_trackers_use_the_sentinels_and_master_name_redis_runs(self):
        store = config_keys(self.config["tracker.conf"])["peer_store"]
        m = re.fullmatch(r"redis-sentinel://([^/]+)/(\w+)", store)
        self.assertIsNotNone(m, store)
        redis = self.find("StatefulSet", "shoal-redis")
        hosts = [f"shoal-redis-{i}.shoal-redis:26379" for i in range(redis["spec"]["replicas"])]
        self.assertEqual(m.group(1).split(","), hosts)
        self.assertIn(f"sentinel monitor {m.group(2)} ", self.scripts["sentinel-start.sh"])
        self.assertIn(f"get-master-addr-by-name {m.group(2)}", self.scripts["find-master.sh"])
        for name, text in self.scripts.items():
            out = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, f"{name}: {out.stderr}")

    def test_the_agent_is_on_every_node_and_reachable_by_peers(self):
        ds = self.find("DaemonSet", "shoal-agent")
        spec = ds["spec"]["template"]["spec"]
        self.assertTrue(spec["hostNetwork"])
        self.assertEqual(spec["dnsPolicy"], "ClusterFirstWithHostNet")
        agent = config_keys(self.config["agent.conf"])
        self.assertTrue(agent["listen"].startswith("127.0.0.1:"),
                        "the agent's HTTP API is for the node itself")
        bt_port = int(agent["bt_listen"].rsplit(":", 1)[1])
        self.assertEqual(spec["containers"][0]["ports"][0]["hostPort"], bt_port)


if __name__ == "__main__":
    unittest.main()
