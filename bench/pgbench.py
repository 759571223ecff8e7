#!/usr/bin/env python3
"""Helper for bench/run.sh (Python 3 standard library only).

Subcommands
  tgz      write an npm tarball (package/package.json + package/payload.bin of random bytes); the
           payload is streamed, so a 1 GiB tarball never sits in memory
  body     write npm's publish document for a tarball to a file, base64 streamed in chunks
  seed     publish the 200-version package (small generated tarballs, kept on disk so every
           target gets the same bytes) and single-version packages from tarball files
  pubbench time N publishes of new versions, sequential or with W concurrent workers
  crate    write a .crate (gzip tar under {name}-{vers}/: Cargo.toml, src/lib.rs, optionally
           payload.bin of random bytes, streamed)
  cargo-seed  publish the 200-version crate (small generated .crate files, kept on disk) and
           single-version crates from .crate files, with cargo's binary publish framing
  gem      write a .gem (uncompressed tar: metadata.gz, data.tar.gz, checksums.yaml.gz) laid out
           like `gem build` (RubyGems 3.3.15), as tests/integration/support/gem_builder.rs does
  gem-seed push N single-version gems plus one gem with M versions and runtime dependencies,
           from W concurrent workers, and report the push rate
  nupkg    write a .nupkg (zip: [Content_Types].xml, {id}.nuspec, lib/netstandard2.0/{id}.dll of
           random bytes, stored when it is large), laid out as bench_nupkg() describes
  nuget-seed  push the many-version package (small .nupkg files generated in memory) and
           single-version packages from .nupkg files to a NuGet v3 feed (multipart PUT, as
           NuGet sends it) from W concurrent workers, and report the push rate
  count    number of versions in a packument
  npm-tree specs NAME@VERSION of every package in an npm lockfile (for `npm pack`), or, with
           --pack-json, check the packed tarballs against the lockfile's integrity and write
           tree.tsv (name, version, file, integrity, bytes; no URLs)
  npm-publish-tree  publish the tarballs of a tree.tsv with the real npm client (`npm publish
           FILE.tgz --registry ... --ignore-scripts`), each package's versions in ascending order
           (so `latest` ends on the highest), W packages at a time
  install-check  what an `npm install` left: packages in its lockfile, the express version
  reqdelta requests per route and proxy events between two /metrics dumps, as JSON
  wrkparse turn wrk --latency output into JSON
  cpu      CPU seconds (user+sys) of a process and its direct children
  metrics  sum/count of packgate_http_request_duration_seconds per route, as JSON
  table    render results.tsv as the markdown report (several: one section per stack, side by side)
"""

import argparse
import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import zipfile

CHUNK = 3 * 1024 * 1024  # multiple of 3: base64 chunks concatenate without padding


# ------------------------------------------------------------------------------------------ tarballs

class RandomReader:
    """A file-like object yielding `size` random bytes, a chunk at a time."""

    def __init__(self, size):
        self.left = size

    def read(self, n=-1):
        if self.left <= 0:
            return b""
        if n is None or n < 0 or n > self.left:
            n = self.left
        n = min(n, 1 << 20)
        self.left -= n
        return os.urandom(n)


def manifest(name, version, i=0):
    """A package.json of a realistic shape (scripts, dependencies, engines, ...)."""
    return {
        "name": name,
        "version": version,
        "description": f"Benchmark package {name}, release {version}",
        "main": "index.js",
        "license": "MIT",
        "keywords": ["bench", "packgate", "npm"],
        "author": {"name": "Bench Author", "email": "bench@example.test"},
        "repository": {"type": "git", "url": "git+https://git.example.test/bench/" + name + ".git"},
        "scripts": {"test": "node test.js", "build": "tsc -p ."},
        "engines": {"node": ">=18"},
        "dependencies": {
            "dep-alpha": f"^{1 + i % 3}.0.0",
            "dep-beta": "~2.3.0",
            "dep-gamma": ">=0.4.0 <2",
        },
        "devDependencies": {"dev-tool": "^5.1.0", "dev-lint": "^9.0.0"},
    }


def tgz_bytes(name, version, payload, i=0):
    """A small tarball in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tf:
        _add_members(tf, name, version, payload, i)
    return buf.getvalue()


def _add_members(tf, name, version, payload_size, i=0):
    pj = json.dumps(manifest(name, version, i), indent=2).encode()
    ti = tarfile.TarInfo("package/package.json")
    ti.size = len(pj)
    ti.mtime = 499162500
    ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(pj))
    idx = f"module.exports = {json.dumps(name + '@' + version)};\n".encode()
    ti = tarfile.TarInfo("package/index.js")
    ti.size = len(idx)
    ti.mtime = 499162500
    ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(idx))
    if payload_size:
        ti = tarfile.TarInfo("package/payload.bin")
        ti.size = payload_size
        ti.mtime = 499162500
        ti.mode = 0o644
        tf.addfile(ti, RandomReader(payload_size))


def cmd_tgz(a):
    size = parse_size(a.size)
    # Random content does not compress; level 0 keeps generation fast for the 1 GiB case.
    level = 0 if size >= (1 << 20) else 6
    with open(a.out, "wb") as f, tarfile.open(fileobj=f, mode="w:gz", compresslevel=level) as tf:
        _add_members(tf, a.name, a.version, size)
    print(os.path.getsize(a.out))


def parse_size(s):
    m = re.fullmatch(r"(\d+)\s*([KMG]i?B?)?", str(s).strip(), re.I)
    if not m:
        raise SystemExit(f"bad size {s!r}")
    n = int(m.group(1))
    unit = (m.group(2) or "").upper()[:1]
    return n * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]


# ------------------------------------------------------------------------------------ publish bodies

def file_digests(path):
    s1, s512, n = hashlib.sha1(), hashlib.sha512(), 0
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            s1.update(b)
            s512.update(b)
            n += len(b)
    return s1.hexdigest(), "sha512-" + base64.b64encode(s512.digest()).decode(), n


def publish_doc(name, version, registry, shasum, integrity, length, i=0, data="@@DATA@@"):
    fname = f"{name.split('/')[-1]}-{version}.tgz"
    v = manifest(name, version, i)
    v.update({
        "_id": f"{name}@{version}",
        "_nodeVersion": "20.0.0",
        "_npmVersion": "10.9.0",
        "dist": {
            "shasum": shasum,
            "integrity": integrity,
            "tarball": f"{registry.rstrip('/')}/{name}/-/{fname}",
        },
    })
    return {
        "_id": name,
        "name": name,
        "description": v["description"],
        "dist-tags": {"latest": version},
        "versions": {version: v},
        "access": None,
        "_attachments": {fname: {"content_type": "application/octet-stream", "data": data, "length": length}},
    }


def body_bytes(name, version, registry, tgz, i=0):
    shasum = hashlib.sha1(tgz).hexdigest()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    doc = publish_doc(name, version, registry, shasum, integrity, len(tgz), i, base64.b64encode(tgz).decode())
    return json.dumps(doc).encode()


def cmd_body(a):
    shasum, integrity, n = file_digests(a.tgz)
    doc = json.dumps(publish_doc(a.name, a.version, a.registry, shasum, integrity, n))
    head, tail = doc.split('"@@DATA@@"')
    with open(a.out, "wb") as out, open(a.tgz, "rb") as f:
        out.write(head.encode() + b'"')
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            out.write(base64.b64encode(b))
        out.write(b'"' + tail.encode())
    print(json.dumps({"bytes": os.path.getsize(a.out), "shasum": shasum}))


# ------------------------------------------------------------------------------------------- HTTP

class Client:
    """One keep-alive connection to a registry base URL like http://127.0.0.1:8080/npm/."""

    def __init__(self, registry, token=None, timeout=600, raw_token=False):
        u = urllib.parse.urlsplit(registry)
        self.raw_token = raw_token  # cargo sends the token as the whole Authorization value
        self.host, self.port = u.hostname, u.port
        self.prefix = u.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        h = {"user-agent": "packgate-bench", "accept": "application/json"}
        if self.token:
            h["authorization"] = self.token if self.raw_token else "Bearer " + self.token
        if body is not None:
            h["content-type"] = "application/json"
        h.update(headers or {})
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, self.prefix + path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # a keep-alive connection closed by the server between requests: reconnect once
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def publish(self, name, version, tgz, i=0):
        reg = f"http://{self.host}:{self.port}{self.prefix}/"
        enc = urllib.parse.quote(name, safe="@")
        return self.request("PUT", "/" + enc, body=body_bytes(name, version, reg, tgz, i),
                            headers={"npm-command": "publish"})


def seed_versions(i):
    return f"1.{i // 20}.{i % 20}"


def cmd_seed(a):
    c = Client(a.registry, a.token)
    failures = 0
    if a.versions:
        os.makedirs(a.tgz_dir, exist_ok=True)
        for i in range(a.versions):
            v = seed_versions(i)
            path = os.path.join(a.tgz_dir, f"{a.name}-{v}.tgz")
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(tgz_bytes(a.name, v, 512, i))
            with open(path, "rb") as f:
                st, data = c.publish(a.name, v, f.read(), i)
            if st not in (200, 201):
                failures += 1
                print(f"seed {a.name}@{v}: HTTP {st} {data[:200]!r}", file=sys.stderr)
    for spec in a.file or []:
        name, version, path = spec.split(":", 2)
        with open(path, "rb") as f:
            st, data = c.publish(name, version, f.read())
        if st not in (200, 201):
            failures += 1
            print(f"seed {name}@{version}: HTTP {st} {data[:200]!r}", file=sys.stderr)
    if failures:
        raise SystemExit(f"seed: {failures} publishes failed")


def cmd_pubbench(a):
    """N publishes of new versions of one package (the same package for every worker)."""
    tgzs = [tgz_bytes(a.name, f"2.0.{i}", 512, i) for i in range(a.count)]
    lock = threading.Lock()
    nxt = [0]
    statuses = {}
    lat = []

    def worker():
        c = Client(a.registry, a.token)
        while True:
            with lock:
                i = nxt[0]
                if i >= a.count:
                    return
                nxt[0] += 1
            t = time.perf_counter()
            try:
                st, _ = c.publish(a.name, f"2.0.{i}", tgzs[i], i)
            except Exception as e:  # noqa: BLE001 - counted as a failure
                st = type(e).__name__
                c.conn = None
            dt = time.perf_counter() - t
            with lock:
                statuses[str(st)] = statuses.get(str(st), 0) + 1
                lat.append(dt)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    ok = statuses.get("200", 0) + statuses.get("201", 0)
    lat.sort()
    st, data = Client(a.registry).request("GET", "/" + urllib.parse.quote(a.name, safe="@"))
    stored = len(json.loads(data).get("versions", {})) if st == 200 else 0
    print(json.dumps({
        "count": a.count, "workers": a.workers, "ok": ok, "statuses": statuses, "seconds": round(secs, 3),
        "per_sec": round(ok / secs, 1) if secs else 0,
        "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1) if lat else None,
        "versions_stored": stored,
    }))


# ---------------------------------------------------------------------------------------- cargo

def cargo_meta(name, version, i=0):
    """cargo's publish metadata (all 18 top-level keys, as cargo sends them) of a realistic shape:
    a normal, an optional platform-specific and a dev dependency, a feature table."""
    return {
        "name": name,
        "vers": version,
        "deps": [
            {"name": "bench-dep-alpha", "version_req": f"^{1 + i % 3}.0", "features": ["derive"],
             "optional": False, "default_features": True, "target": None, "kind": "normal"},
            {"name": "bench-dep-beta", "version_req": "^0.8", "features": [], "optional": True,
             "default_features": False, "target": "cfg(unix)", "kind": "normal"},
            {"name": "bench-dep-gamma", "version_req": "^2.3", "features": [], "optional": False,
             "default_features": True, "target": None, "kind": "dev"},
        ],
        "features": {"default": ["std"], "std": [], "beta": ["dep:bench-dep-beta"]},
        "authors": ["Bench Author <bench@example.test>"],
        "description": f"Benchmark crate {name}, release {version}",
        "documentation": None,
        "homepage": None,
        "readme": None,
        "readme_file": None,
        "keywords": ["bench", "packgate"],
        "categories": [],
        "license": "MIT",
        "license_file": None,
        "repository": None,
        "badges": {},
        "links": None,
        "rust_version": "1.70",
    }


def cargo_toml(name, version, i=0):
    return (f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
            f'rust-version = "1.70"\ndescription = "Benchmark crate {name}, release {version}"\n'
            'license = "MIT"\nauthors = ["Bench Author <bench@example.test>"]\n\n'
            f'[dependencies]\nbench-dep-alpha = {{ version = "^{1 + i % 3}.0", features = ["derive"] }}\n'
            '\n[target."cfg(unix)".dependencies]\n'
            'bench-dep-beta = { version = "^0.8", optional = true, default-features = false }\n'
            '\n[dev-dependencies]\nbench-dep-gamma = "^2.3"\n'
            '\n[features]\ndefault = ["std"]\nstd = []\nbeta = ["dep:bench-dep-beta"]\n').encode()


def _add_crate_members(tf, name, version, payload_size, i=0):
    top = f"{name}-{version}"
    files = [("Cargo.toml", cargo_toml(name, version, i)),
             ("src/lib.rs", f"pub const RELEASE: &str = {json.dumps(name + '@' + version)};\n".encode())]
    for rel, data in files:
        ti = tarfile.TarInfo(f"{top}/{rel}")
        ti.size = len(data)
        ti.mtime = 499162500
        ti.mode = 0o644
        tf.addfile(ti, io.BytesIO(data))
    if payload_size:
        ti = tarfile.TarInfo(f"{top}/payload.bin")
        ti.size = payload_size
        ti.mtime = 499162500
        ti.mode = 0o644
        tf.addfile(ti, RandomReader(payload_size))


def crate_bytes(name, version, payload, i=0):
    """A small .crate in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6, format=tarfile.USTAR_FORMAT) as tf:
        _add_crate_members(tf, name, version, payload, i)
    return buf.getvalue()


def cmd_crate(a):
    size = parse_size(a.size)
    level = 0 if size >= (1 << 20) else 6  # random content does not compress
    with open(a.out, "wb") as f, tarfile.open(fileobj=f, mode="w:gz", compresslevel=level,
                                              format=tarfile.USTAR_FORMAT) as tf:
        _add_crate_members(tf, a.name, a.version, size)
    print(os.path.getsize(a.out))


def cargo_publish(c, name, version, crate, i=0):
    """PUT {base}/api/v1/crates/new: u32 LE len(json) | json | u32 LE len(crate) | crate."""
    meta = json.dumps(cargo_meta(name, version, i), separators=(",", ":")).encode()
    body = struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(crate)) + crate
    return c.request("PUT", "/api/v1/crates/new", body=body,
                     headers={"content-type": "application/octet-stream", "user-agent": "cargo/1.95.0 (bench)"})


def cmd_cargo_seed(a):
    c = Client(a.registry, a.token, raw_token=True)
    failures = 0
    if a.versions:
        os.makedirs(a.crate_dir, exist_ok=True)
        for i in range(a.versions):
            v = seed_versions(i)
            path = os.path.join(a.crate_dir, f"{a.name}-{v}.crate")
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(crate_bytes(a.name, v, 512, i))
            with open(path, "rb") as f:
                st, data = cargo_publish(c, a.name, v, f.read(), i)
            if st != 200:
                failures += 1
                print(f"cargo-seed {a.name}@{v}: HTTP {st} {data[:200]!r}", file=sys.stderr)
    for spec in a.file or []:
        name, version, path = spec.split(":", 2)
        with open(path, "rb") as f:
            st, data = cargo_publish(c, name, version, f.read())
        if st != 200:
            failures += 1
            print(f"cargo-seed {name}@{version}: HTTP {st} {data[:200]!r}", file=sys.stderr)
    if failures:
        raise SystemExit(f"cargo-seed: {failures} publishes failed")



# ------------------------------------------------------------------------------------- rubygems
# A .gem as `gem build` (RubyGems 3.3.15) lays it out, field for field as in
# tests/integration/support/gem_builder.rs: an uncompressed ustar archive (mode 0444, owner wheel)
# of metadata.gz (gzip of the gemspec YAML), data.tar.gz (gzip of a ustar of the files, mode 0644)
# and checksums.yaml.gz (SHA256 and SHA512 of the other two).

GEM_DATE = "2024-01-01 00:00:00.000000000 Z"
GEM_MTIME = 1_704_067_200


def yaml_scalar(s):
    """A YAML scalar the way Psych writes it (gem_builder.rs `yaml_scalar`)."""
    def is_num(x):  # what Rust's str::parse::<f64> accepts (no blanks, no '_')
        try:
            float(x)
            return x.strip() == x and "_" not in x
        except ValueError:
            return False
    keyword = s.lower() in ("true", "false", "null", "yes", "no", "on", "off", "~", "y", "n")
    special = (not s or s[0] in " -?:,[]{}#&*!|>'\"%@`" or s.endswith(" ") or ": " in s or " #" in s
               or any(ord(c) < 32 or ord(c) == 127 for c in s))
    if special:
        out = '"'
        for c in s:
            if c == '"':
                out += '\\"'
            elif c == "\\":
                out += "\\\\"
            elif c == "\n":
                out += "\\n"
            elif ord(c) < 32 or ord(c) == 127:
                out += f"\\x{ord(c):02X}"
            else:
                out += c
        return out + '"'
    if is_num(s) or keyword:
        return f"'{s}'"
    return s


def split_constraint(c):
    c = c.strip()
    for op in ("~>", ">=", "<=", "!=", ">", "<", "="):
        if c.startswith(op):
            return op, c[len(op):].strip()
    return "=", c


def requirement_yaml(reqs, indent):
    pad = " " * indent
    y = f"!ruby/object:Gem::Requirement\n{pad}  requirements:\n"
    for r in reqs or [">= 0"]:
        op, v = split_constraint(r)
        y += f'{pad}  - - "{op}"\n{pad}    - !ruby/object:Gem::Version\n{pad}      version: {yaml_scalar(v)}\n'
    return y


def gem_spec_yaml(name, version, deps=(), required_ruby=(), files=(), summary=None):
    """deps: (name, [constraints], development?)."""
    y = "--- !ruby/object:Gem::Specification\n"
    y += f"name: {yaml_scalar(name)}\n"
    y += f"version: !ruby/object:Gem::Version\n  version: {yaml_scalar(version)}\n"
    y += "platform: ruby\n"
    y += "authors:\n- packgate tests\nautorequire:\nbindir: bin\ncert_chain: []\n"
    y += f"date: {GEM_DATE}\n"
    if not deps:
        y += "dependencies: []\n"
    else:
        y += "dependencies:\n"
        for dname, reqs, dev in deps:
            y += "- !ruby/object:Gem::Dependency\n"
            y += f"  name: {yaml_scalar(dname)}\n"
            y += "  requirement: " + requirement_yaml(reqs, 2)
            y += f"  type: :{'development' if dev else 'runtime'}\n  prerelease: false\n"
            y += "  version_requirements: " + requirement_yaml(reqs, 2)
    y += "description:\nemail:\nexecutables: []\nextensions: []\nextra_rdoc_files: []\n"
    y += "files:\n" + "".join(f"- {yaml_scalar(p)}\n" for p, _ in files)
    y += "homepage:\nlicenses:\n- MIT\nmetadata: {}\npost_install_message:\n"
    y += "rdoc_options: []\nrequire_paths:\n- lib\n"
    y += "required_ruby_version: " + requirement_yaml(list(required_ruby), 0)
    prerelease = any(c.isalpha() for c in version)
    y += "required_rubygems_version: " + requirement_yaml(["> 1.3.1"] if prerelease else [], 0)
    y += "requirements: []\nrubygems_version: 3.3.15\nsigning_key:\n"
    y += "specification_version: 4\n"
    y += f"summary: {yaml_scalar(summary or name + ' bench gem')}\n"
    y += "test_files: []\n"
    return y


def _ustar(entries):
    """An uncompressed ustar archive of (name, bytes, mode), owner wheel, fixed mtime; ended by two
    zero blocks without tarfile's padding to 10 KiB, as the Rust tar builder writes it."""
    out = []
    for name, data, mode in entries:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = mode
        ti.mtime = GEM_MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "wheel"
        out += [ti.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"), data, b"\0" * (-len(data) % 512)]
    return b"".join(out) + b"\0" * 1024


def _gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


def gem_bytes(name, version, deps=(), required_ruby=()):
    """A small pure-Ruby .gem (one file lib/NAME.rb) in memory."""
    files = [(f"lib/{name}.rb", f"# {name} {version}\nPG_TEST_VERSION = {json.dumps(version)}\n".encode())]
    metadata = _gz(gem_spec_yaml(name, version, deps, required_ruby, files).encode())
    data = _gz(_ustar([(p, c, 0o644) for p, c in files]))
    checksums = ("---\nSHA256:\n"
                 f"  metadata.gz: {hashlib.sha256(metadata).hexdigest()}\n"
                 f"  data.tar.gz: {hashlib.sha256(data).hexdigest()}\n"
                 "SHA512:\n"
                 f"  metadata.gz: {hashlib.sha512(metadata).hexdigest()}\n"
                 f"  data.tar.gz: {hashlib.sha512(data).hexdigest()}\n").encode()
    return _ustar([("metadata.gz", metadata, 0o444), ("data.tar.gz", data, 0o444),
                   ("checksums.yaml.gz", _gz(checksums), 0o444)])


def multi_gem_deps(i):
    """Version i of the many-version gem: two runtime dependencies (one with two constraints) and a
    development one (which the compact index leaves out); required Ruby >= 2.7."""
    return [("bench-dep-alpha", [f"~> {1 + i % 3}.0"], False),
            ("bench-dep-beta", [">= 0.8", "< 2"], False),
            ("bench-dev-tool", ["~> 5.1"], True)]


def gem_push(c, gem):
    return c.request("POST", "/api/v1/gems", body=gem,
                     headers={"content-type": "application/octet-stream", "user-agent": "packgate-bench gem"})


def cmd_gem(a):
    i = a.index
    deps = multi_gem_deps(i) if a.deps else ()
    data = gem_bytes(a.name, a.version, deps, [">= 2.7"] if a.deps else ())
    with open(a.out, "wb") as f:
        f.write(data)
    print(len(data))


def push_all(groups, make_client, push, ok_status, workers, first_alone=False):
    """Runs `push(client, blob)` for every `(name, version, blob)` of `groups`: each group in order
    on one worker, the groups shared by `workers` threads (with `first_alone`, the first group runs
    before the others start). Returns (seconds, statuses, sorted latencies, up to 5 errors)."""
    lock = threading.Lock()
    nxt = [1 if first_alone and groups else 0]
    statuses, lat, errors = {}, [], []

    def run_group(c, group):
        for name, version, blob in group:
            t0 = time.perf_counter()
            try:
                st, data = push(c, blob)
            except Exception as e:  # noqa: BLE001 - counted as a failure
                st, data = type(e).__name__, b""
                c.conn = None
            dt = time.perf_counter() - t0
            with lock:
                statuses[str(st)] = statuses.get(str(st), 0) + 1
                lat.append(dt)
                if st != ok_status and len(errors) < 5:
                    errors.append(f"{name} {version}: {st} {data[:200]!r}")
        return c

    def worker():
        c = make_client()
        while True:
            with lock:
                if nxt[0] >= len(groups):
                    return
                group = groups[nxt[0]]
                nxt[0] += 1
            run_group(c, group)

    t0 = time.perf_counter()
    if first_alone and groups:
        run_group(make_client(), groups[0])
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    lat.sort()
    return time.perf_counter() - t0, statuses, lat, errors


def seed_report(label, run, ok_status, workers, gen_secs, size_key, sizes):
    """Prints the JSON line of a seeding run (rate, statuses, latency percentiles, sizes); exits
    non-zero when a push failed."""
    secs, statuses, lat, errors = run
    ok = statuses.get(str(ok_status), 0)
    for e in errors:
        print(f"{label}: " + e, file=sys.stderr)
    print(json.dumps({
        "pushes": len(lat), "ok": ok, "workers": workers, "statuses": statuses, "seconds": round(secs, 3),
        "per_sec": round(ok / secs, 1) if secs else 0, "generate_seconds": round(gen_secs, 2),
        f"{size_key}_min": min(sizes) if sizes else 0, f"{size_key}_max": max(sizes) if sizes else 0,
        "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1) if lat else None,
    }))
    if ok != len(lat):
        raise SystemExit(f"{label}: {len(lat) - ok} pushes failed")


def cmd_gem_seed(a):
    """Pushes `--multi-versions` versions of `--multi-name` (in order, one worker) and `--count`
    single-version gems `{prefix}{i:05d}` from `--workers` workers; prints rate and statuses."""
    t = time.perf_counter()
    jobs = [[(a.multi_name, f"1.{i // 10}.{i % 10}",
              gem_bytes(a.multi_name, f"1.{i // 10}.{i % 10}", multi_gem_deps(i), [">= 2.7"]))
             for i in range(a.multi_versions)]] if a.multi_versions else []
    jobs += [[(f"{a.prefix}{i:05d}", "1.0.0", gem_bytes(f"{a.prefix}{i:05d}", "1.0.0"))] for i in range(a.count)]
    gen_secs = time.perf_counter() - t
    sizes = [len(g) for job in jobs for _, _, g in job]
    run = push_all(jobs, lambda: Client(a.registry, a.token, raw_token=True), gem_push, 200, a.workers)
    seed_report("gem-seed", run, 200, a.workers, gen_secs, "gem_bytes", sizes)


# ---------------------------------------------------------------------------------------- nuget
# A .nupkg as the bench pushes it: a zip of [Content_Types].xml, the {id}.nuspec manifest at the
# root (2013/05 namespace; id, version, authors, description, one netstandard2.0 dependency group
# with one dependency) and lib/netstandard2.0/{id}.dll of random bytes (deflated when small,
# stored when large, since random bytes do not compress), fixed timestamps.

NUSPEC_NS = "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"
NUGET_BOUNDARY = "7d3f1a6c-packgate-bench-boundary"


def nuspec_xml(pid, version):
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<package xmlns="{NUSPEC_NS}">\n'
            "  <metadata>\n"
            f"    <id>{pid}</id>\n"
            f"    <version>{version}</version>\n"
            "    <authors>Bench Author</authors>\n"
            f"    <description>Benchmark package {pid}, release {version}</description>\n"
            "    <dependencies>\n"
            '      <group targetFramework="netstandard2.0">\n'
            '        <dependency id="Bench.Dep" version="[1.0.0, )" />\n'
            "      </group>\n"
            "    </dependencies>\n"
            "  </metadata>\n"
            "</package>\n").encode()


CONTENT_TYPES = ('<?xml version="1.0" encoding="utf-8"?>\n'
                 '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\n'
                 '  <Default Extension="nuspec" ContentType="application/octet" />\n'
                 '  <Default Extension="dll" ContentType="application/octet" />\n'
                 "</Types>\n").encode()


def bench_nupkg(out, pid, version, dll_size):
    """Writes the .nupkg to `out` (a path or a binary file object)."""
    stamp = (2024, 1, 1, 0, 0, 0)
    big = dll_size >= (1 << 20)
    with zipfile.ZipFile(out, "w") as z:
        for name, data in (("[Content_Types].xml", CONTENT_TYPES), (f"{pid}.nuspec", nuspec_xml(pid, version))):
            zi = zipfile.ZipInfo(name, stamp)
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
        zi = zipfile.ZipInfo(f"lib/netstandard2.0/{pid}.dll", stamp)
        zi.compress_type = zipfile.ZIP_STORED if big else zipfile.ZIP_DEFLATED
        with z.open(zi, "w", force_zip64=False) as f:
            src = RandomReader(dll_size)
            while True:
                b = src.read(1 << 20)
                if not b:
                    break
                f.write(b)


def nupkg_bytes(pid, version, dll_size):
    buf = io.BytesIO()
    bench_nupkg(buf, pid, version, dll_size)
    return buf.getvalue()


def cmd_nupkg(a):
    bench_nupkg(a.out, a.id, a.version, parse_size(a.size))
    print(os.path.getsize(a.out))


def nuget_push(c, token, nupkg):
    """PUT {v3}/package/: multipart/form-data, one file part holding the .nupkg (NuGet's layout)."""
    head = (f"--{NUGET_BOUNDARY}\r\nContent-Type: application/octet-stream\r\n"
            "Content-Disposition: form-data; name=package; filename=package.nupkg; "
            "filename*=utf-8''package.nupkg\r\n\r\n").encode()
    body = head + nupkg + f"\r\n--{NUGET_BOUNDARY}--\r\n".encode()
    return c.request("PUT", "/package/", body=body, headers={
        "content-type": f'multipart/form-data; boundary="{NUGET_BOUNDARY}"',
        "x-nuget-apikey": token, "user-agent": "NuGet Command Line/5.8.1 (packgate-bench)"})


def cmd_nuget_seed(a):
    """Pushes `--versions` versions 1.0.0 … 1.{n-1}.0 of `--id` (the first alone, since it creates
    the package, then from `--workers` workers) and the `--file` packages; prints rate and statuses."""
    t = time.perf_counter()
    jobs = [(a.id, f"1.{i}.0", nupkg_bytes(a.id, f"1.{i}.0", a.dll_bytes)) for i in range(a.versions)]
    for spec in a.file or []:
        pid, version, path = spec.split(":", 2)
        with open(path, "rb") as f:
            jobs.append((pid, version, f.read()))
    gen_secs = time.perf_counter() - t
    small = [len(n) for pid, _, n in jobs if pid == a.id]
    run = push_all([[j] for j in jobs], lambda: Client(a.registry),
                   lambda c, nupkg: nuget_push(c, a.token, nupkg), 201, a.workers, first_alone=True)
    seed_report("nuget-seed", run, 201, a.workers, gen_secs, "nupkg_bytes", small)


def cmd_count(a):
    with open(a.file, "rb") as f:
        print(len(json.load(f).get("versions", {})))


# ------------------------------------------------------------------------------ npm trees (proxy)

def lock_packages(path):
    """(name, version, integrity) of every installed package in an npm lockfile (v2/v3)."""
    d = json.load(open(path))
    out = set()
    for key, v in d.get("packages", {}).items():
        if not key or "node_modules/" not in key or v.get("link") or v.get("inBundle"):
            continue  # links and bundled packages come with another package, not from the registry
        name = v.get("name") or key[key.rindex("node_modules/") + len("node_modules/"):]
        out.add((name, v["version"], v.get("integrity")))
    return sorted(out)


def cmd_npm_tree(a):
    pkgs = lock_packages(a.lock)
    if not a.pack_json:
        print(" ".join(f"{n}@{v}" for n, v, _ in pkgs))
        return
    want = {(n, v): i for n, v, i in pkgs}
    packed = json.load(open(a.pack_json))
    rows, bad = [], []
    for x in packed:
        path = os.path.join(a.dir, x["filename"])
        with open(path, "rb") as f:
            b = f.read()
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(b).digest()).decode()
        if want.get((x["name"], x["version"])) not in (None, integrity):
            bad.append(f"{x['name']}@{x['version']}")
        rows.append((x["name"], x["version"], x["filename"], integrity, len(b)))
    missing = sorted(set(want) - {(r[0], r[1]) for r in rows})
    if bad or missing:
        raise SystemExit(f"npm-tree: tarballs differing from the lockfile's integrity: {bad}; not packed: {missing}")
    with open(os.path.join(a.dir, "tree.tsv"), "w") as f:
        for r in sorted(rows):
            f.write("\t".join(str(c) for c in r) + "\n")
    print(json.dumps({"packages": len(rows), "bytes": sum(r[4] for r in rows)}))


def version_key(v):
    """semver order: numeric core, a release after its prereleases, prerelease fields compared
    numerically when numeric."""
    core, _, pre = v.split("+")[0].partition("-")
    nums = tuple(int(x) if x.isdigit() else 0 for x in core.split("."))
    if not pre:
        return nums, (1,)
    return nums, (0,) + tuple((0, int(x), "") if x.isdigit() else (1, 0, x) for x in pre.split("."))


def read_tree(d):
    rows = []
    for line in open(os.path.join(d, "tree.tsv")):
        name, version, fname, integrity, size = line.rstrip("\n").split("\t")
        rows.append({"name": name, "version": version, "file": os.path.join(d, fname),
                     "integrity": integrity, "bytes": int(size)})
    return rows


def tgz_manifest(path):
    with tarfile.open(path, "r:gz") as tf:
        for m in tf.getmembers():
            if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/package.json"):
                return json.load(tf.extractfile(m))
    raise SystemExit(f"{path}: no package.json at the top of the tarball")


def cmd_npm_publish_tree(a):
    rows = read_tree(a.dir)
    for r in rows:
        pc = tgz_manifest(r["file"]).get("publishConfig") or {}
        if any("registry" in k for k in pc):  # npm could send it somewhere else than --registry
            raise SystemExit(f"npm-publish-tree: {r['name']}@{r['version']} declares publishConfig "
                             f"{sorted(pc)}; refusing to publish it with npm")
    groups = {}
    for r in rows:
        groups.setdefault(r["name"], []).append(r)
    jobs = [sorted(g, key=lambda r: version_key(r["version"])) for _, g in sorted(groups.items())]
    u = urllib.parse.urlsplit(a.registry)
    os.makedirs(a.work, exist_ok=True)
    npmrc = os.path.join(a.work, "npmrc")
    with open(npmrc, "w") as f:  # the token for this registry only
        f.write(f"//{u.netloc}{u.path}:_authToken={a.token}\n")
    env = dict(os.environ, NPM_CONFIG_UPDATE_NOTIFIER="false")
    lock = threading.Lock()
    nxt = [0]
    done, errors = [0], []

    def worker(w):
        cache = os.path.join(a.work, f"cache-{w}")
        while True:
            with lock:
                if nxt[0] >= len(jobs) or errors:
                    return
                job = jobs[nxt[0]]
                nxt[0] += 1
            for r in job:
                cmd = ["npm", "publish", r["file"], "--registry", a.registry, "--userconfig", npmrc,
                       "--cache", cache, "--ignore-scripts", "--loglevel=error", "--no-audit", "--no-fund"]
                if "-" in r["version"].split("+")[0]:
                    cmd += ["--tag", "bench-prerelease"]  # npm wants a tag for prereleases
                p = subprocess.run(cmd, env=env, cwd=a.work, capture_output=True, text=True)
                with lock:
                    if p.returncode != 0:
                        errors.append(f"{r['name']}@{r['version']}: exit {p.returncode}: "
                                      + (p.stderr.strip() or p.stdout.strip())[-400:])
                        return
                    done[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(a.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    for e in errors:
        print("npm-publish-tree: " + e, file=sys.stderr)
    print(json.dumps({"published": done[0], "packages": len(rows), "names": len(jobs),
                      "workers": a.workers, "seconds": round(secs, 2), "errors": errors[:3]}))
    if errors:
        raise SystemExit(1)


def cmd_install_check(a):
    lock = os.path.join(a.dir, "package-lock.json")
    pkgs = lock_packages(lock)
    resolved = [v.get("resolved", "") for k, v in json.load(open(lock)).get("packages", {}).items() if k]
    elsewhere = sum(1 for u in resolved if u and not u.startswith(a.registry))
    try:
        express = json.load(open(os.path.join(a.dir, "node_modules", "express", "package.json")))["version"]
    except OSError:
        express = None
    print(json.dumps({"packages": len(pkgs), "express": express, "resolved_elsewhere": elsewhere}))


def metrics_counts(path):
    """Request counts per route and proxy events per event from a /metrics dump."""
    routes, events = {}, {}
    for line in open(path):
        m = re.match(r'packgate_http_request_duration_seconds_count\{.*route="([^"]+)".*\} ([\d.e+-]+)', line)
        if m:
            routes[m.group(1)] = routes.get(m.group(1), 0) + int(float(m.group(2)))
        m = re.match(r'packgate_proxy_events_total\{.*event="([^"]+)".*\} ([\d.e+-]+)', line)
        if m:
            events[m.group(1)] = events.get(m.group(1), 0) + int(float(m.group(2)))
    return routes, events


def cmd_reqdelta(a):
    r0, e0 = metrics_counts(a.before)
    r1, e1 = metrics_counts(a.after)
    # the bench's own /metrics GETs are not counted
    routes = {k: v - r0.get(k, 0) for k, v in r1.items() if v - r0.get(k, 0) and k != "metrics"}
    events = {k: v - e0.get(k, 0) for k, v in e1.items() if v - e0.get(k, 0)}
    print(json.dumps({"requests": sum(routes.values()), "routes": routes, "proxy_events": events}))


# -------------------------------------------------------------------------------------- measuring

def to_ms(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", s)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def cmd_wrkparse(a):
    text = open(a.file).read()
    out = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": None, "non2xx": 0, "socket_errors": 0,
           "transfer_per_sec": None, "read_bytes": None}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"Transfer/sec:\s+(\S+)", text)
    if m:
        out["transfer_per_sec"] = m.group(1)
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            v = to_ms(m.group(1))
            out[key] = None if v is None else round(v, 4)
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"requests in [\d.]+\w+, ([\d.]+)([KMGT]?B) read", text)
    if m:  # wrk's units are binary; 2-3 significant digits
        out["read_bytes"] = round(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2)[:-1] or " "))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = sum(int(x) for x in m.groups())
    print(json.dumps(out))


def proc_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def cmd_cpu(a):
    total = proc_cpu(a.pid)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == a.pid:
                total += proc_cpu(int(d))
    print(f"{total:.2f}")


def cmd_busy(a):
    """CPU-seconds the whole machine has spent busy since boot (all but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    print(f"{(sum(v[:8]) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK'):.2f}")


def cmd_metrics(a):
    out = {}
    for line in open(a.file):
        m = re.match(r'packgate_http_request_duration_seconds_(sum|count)\{.*route="([^"]+)".*\} ([\d.e+-]+)', line)
        if m:
            out.setdefault(m.group(2), {"sum": 0.0, "count": 0})
            if m.group(1) == "sum":
                out[m.group(2)]["sum"] += float(m.group(3))
            else:
                out[m.group(2)]["count"] += int(float(m.group(3)))
    print(json.dumps(out))


# --------------------------------------------------------------------------------------- the table

def fmt_rps(x):
    return "—" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def fmt_ms(x):
    return "—" if x is None else f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:,.0f}"


def fmt_mib(kib):
    return "—" if kib is None else f"{kib / 1024:.1f} MiB"


def load_results(path):
    """results.tsv: lines `dotted.key<TAB>json value`, later lines win."""
    r = {}
    for line in open(path):
        if not line.strip():
            continue
        key, val = line.rstrip("\n").split("\t", 1)
        d = r
        parts = key.split(".")
        for k in parts[:-1]:
            d = d.setdefault(k, {})
        if parts[-1] == "+":  # append to a list
            d.setdefault("_list", []).append(json.loads(val))
        else:
            d[parts[-1]] = json.loads(val)
    return r


TARGET_NAMES = {"packgate": "packgate", "verdaccio": "Verdaccio", "nginx": "nginx", "proxy": "packgate proxy"}
STACK_NAMES = {"sqlite": "SQLite + filesystem blobs", "pg-s3": "PostgreSQL + S3"}
PART_LISTS = ("npm+cargo", "npm+cargo+rubygems", "npm+cargo+rubygems+nuget", "npm+cargo+rubygems+nuget+proxy")


def ratio(p, q):
    if not (p and q):
        return "—"
    return f"{p / q:.3f}x" if p / q < 0.1 else f"{p / q:.2f}x"


def reads_table(r, tests, targets):
    """req/s and p99 per target, then packgate ÷ each other target."""
    L = ["| test | " + " | ".join(f"{TARGET_NAMES[t]} req/s | p99 ms" for t in targets) + " | "
         + " | ".join(f"packgate ÷ {TARGET_NAMES[t]}" for t in targets[1:]) + " |",
         "|---|" + "---:|---:|" * len(targets) + "---:|" * (len(targets) - 1)]
    for t in tests:
        cells = []
        for tgt in targets:
            x = r["wrk"].get(t["id"], {}).get(tgt)
            if x is None:
                cells += ["—", "—"]
                continue
            flag = ""
            if x.get("non2xx") or x.get("socket_errors"):
                flag = f" ⚠ {x.get('non2xx', 0)} non-2xx, {x.get('socket_errors', 0)} socket errors"
            cells += [fmt_rps(x["rps"]) + flag, fmt_ms(x["p99_ms"])]
        rps = {tgt: r["wrk"].get(t["id"], {}).get(tgt, {}).get("rps") for tgt in targets}
        L.append(f"| {t['label']} | " + " | ".join(cells) + " | "
                 + " | ".join(ratio(rps["packgate"], rps[tgt]) for tgt in targets[1:]) + " |")
    return L


def cpu_table(r, tests, targets, bytes_per_response=False, names=None):
    names = names or TARGET_NAMES
    L = ["| test | target | server CPU s | wrk CPU s | other processes CPU s | server CPU per request | "
         + ("bytes per response (wrk) | " if bytes_per_response else "")
         + "server mean service time (packgate /metrics) |",
         "|---|---|---:|---:|---:|---:|" + ("---:|" if bytes_per_response else "") + "---:|"]
    for t in tests:
        for tgt in targets:
            x = r["wrk"].get(t["id"], {}).get(tgt)
            if not x:
                continue
            svc = x.get("server_mean_ms")
            per = (f"{x['server_cpu'] / x['requests'] * 1e6:,.0f} µs"
                   if x.get("requests") and x.get("server_cpu") is not None else "—")
            bpr = ""
            if bytes_per_response:
                bpr = (f"{x['read_bytes'] / x['requests']:,.0f} | " if x.get("read_bytes") and x.get("requests")
                       else "— | ")
            L.append(f"| {t['label']} | {names[tgt]} | {x.get('server_cpu', '—')} | {x.get('wrk_cpu', '—')} | "
                     f"{x.get('other_cpu', '—')} | {per} | {bpr}" + (f"{svc:.3f} ms" if svc is not None else "") + " |")
    return L


def rubygems_section(r):
    g = r.get("gseed", {})
    n_single = g.get("pushes", 0) - 50 if g else 0
    L = [f"## RubyGems reads at {n_single:,} gems (wrk)", ""]
    if g:
        bad = {k: v for k, v in g.get("statuses", {}).items() if k != "200"}
        L.append(f"Seeding: {g['pushes']:,} pushes to packgate's hosted RubyGems source (`/rubygems/`, "
                 f"`POST /api/v1/gems`, the `.gem` as the body): {n_single:,} single-version gems "
                 f"`bench-gem-NNNNN` and `bench-gem` with 50 versions (two runtime dependencies, one "
                 f"development dependency, `required_ruby_version >= 2.7`), .gem files of "
                 f"{g['gem_bytes_min']:,}–{g['gem_bytes_max']:,} B, from {g['workers']} concurrent Python "
                 f"workers: **{g['per_sec']:,.1f} pushes/s** ({g['seconds']:.1f} s; per push p50 "
                 f"{fmt_ms(g['p50_ms'])} ms, p99 {fmt_ms(g['p99_ms'])} ms; "
                 + (f"errors: {bad}" if bad else f"all {g['ok']:,} answered 200") + "). CPU-seconds "
                 f"during the seeding: packgate {g.get('server_cpu', '?')}, whole machine "
                 f"{g.get('machine_cpu', '?')} (includes the Python pushers); packgate VmRSS afterwards "
                 f"{fmt_mib(g.get('rss_kib'))}.")
        L.append("")
    if r["rtests"]:
        L.append("nginx serves the `versions` and `info/bench-gem` bytes fetched from packgate as static "
                 "files under the same paths; for the 304 tests each server gets its own ETag (packgate's "
                 "quoted MD5 of the body, nginx's `\"mtime-size\"`); the Range test sends "
                 "`Range: bytes=<len-1>-` with an `If-None-Match` that matches nothing, as Bundler does "
                 "after the document changed, and both answer 206 with 1 byte. Load average (1/5/15 min) "
                 f"when the reads started: {r.get('gload', '?')}.")
        L.append("")
        L += reads_table(r, r["rtests"], ("packgate", "nginx"))
        L.append("")
        sizes = []
        for k, v in r.get("gsizes", {}).items():
            sizes.append(f"{k} {v:,} B" if isinstance(v, int) and "lines" not in k
                         else f"{k} {v:,}" if isinstance(v, int) else f"{k} `{v}`")
        L.append("Sizes: " + ", ".join(sizes) + ".")
        L.append("")
        L.append("### CPU split during each RubyGems run (CPU-seconds over the run; 2 cores = 2 s per second)")
        L.append("")
        L += cpu_table(r, r["rtests"], ("packgate", "nginx"), bytes_per_response=True)
        L.append("")
    if r["rerender"]:
        L.append("### First `versions` GET after a push (the re-render), curl `%{time_total}`")
        L.append("")
        L.append("After the reads, five more gems are pushed one at a time (`curl --data-binary`); after "
                 "each push `versions` is fetched three times in a row (full body, no conditional "
                 "headers).")
        L.append("")
        L.append("| push | gem lines | body bytes | push ms | 1st GET ms (re-render) | 2nd GET ms | 3rd GET ms |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|")
        for x in r["rerender"]:
            L.append(f"| {x['k']} | {x['lines']:,} | {x['bytes']:,} | {fmt_ms(x['push_s'] * 1000)} | "
                     f"{fmt_ms(x['first_s'] * 1000)} | {fmt_ms(x['second_s'] * 1000)} | {fmt_ms(x['third_s'] * 1000)} |")
        L.append("")
    return L


def nuget_section(r):
    L = ["## NuGet reads (wrk)", ""]
    g = r.get("nseed", {})
    if g:
        bad = {k: v for k, v in g.get("statuses", {}).items() if k != "201"}
        L.append(f"Seeding: {g['pushes']:,} pushes to packgate's hosted NuGet feed (`/nuget/v3/`, "
                 "`PUT /package/`, multipart/form-data with one file part, `X-NuGet-ApiKey`): "
                 f"`Bench.Package` with {g['pushes'] - 1:,} versions (.nupkg files of "
                 f"{g['nupkg_bytes_min']:,}–{g['nupkg_bytes_max']:,} B: `[Content_Types].xml`, the nuspec "
                 "with one `netstandard2.0` dependency group, a 512-byte random dll) and "
                 "`Bench.Package.Big` 1.0.0 (a 1 MiB random dll, stored); the first version alone, the "
                 f"rest from {g['workers']} concurrent Python workers: **{g['per_sec']:,.1f} pushes/s** "
                 f"({g['seconds']:.2f} s; per push p50 {fmt_ms(g['p50_ms'])} ms, p99 {fmt_ms(g['p99_ms'])} ms; "
                 + (f"errors: {bad}" if bad else f"all {g['ok']:,} answered 201") + "). CPU-seconds "
                 f"during the seeding: packgate {g.get('server_cpu', '?')}, whole machine "
                 f"{g.get('machine_cpu', '?')} (includes the Python pushers); packgate VmRSS afterwards "
                 f"{fmt_mib(g.get('rss_kib'))}.")
        L.append("")
    if r["ntests"]:
        L.append("nginx serves the flat-container version list, the registration index, the first "
                 "registration page and the 1 MiB `.nupkg` fetched from packgate as static files under "
                 "the same paths; for the 304 tests each server gets its own ETag in `If-None-Match` "
                 "(packgate's, and nginx's `\"mtime-size\"`). Load average (1/5/15 min) when the reads "
                 f"started: {r.get('nload', '?')}.")
        L.append("")
        L += reads_table(r, r["ntests"], ("packgate", "nginx"))
        L.append("")
        L.append("Sizes: " + ", ".join(f"{k} {v:,} B" if isinstance(v, int) else f"{k} `{v}`"
                                       for k, v in r.get("nsizes", {}).items()) + ".")
        L.append("")
        L.append("### CPU split during each NuGet run (CPU-seconds over the run; 2 cores = 2 s per second)")
        L.append("")
        L += cpu_table(r, r["ntests"], ("packgate", "nginx"), bytes_per_response=True)
        L.append("")
    return L


def median(xs):
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def verdict(value, bound, higher_is_better=False):
    if value is None:
        return "—"
    ok = value >= bound if higher_is_better else value <= bound
    return "met" if ok else "**not met**"


PROXY_NAMES = {"packgate": "packgate, hosted", "proxy": "packgate proxy, hit", "nginx": "nginx"}


def install_summary(r):
    """(median direct s, median proxy s, ratio, successful rounds per mode) of the cold installs."""
    rounds = r.get("pinstall", {}).get("rounds", {}).get("_list", [])
    tree = r.get("pinstall", {}).get("tree", {})
    def ok(x):
        return x["exit"] == 0 and (not tree or x["packages"] == tree.get("packages")) and not x.get("resolved_elsewhere")
    d = [x["seconds"] for x in rounds if x["mode"] == "direct" and ok(x)]
    p = [x["seconds"] for x in rounds if x["mode"] == "proxy" and ok(x)]
    md, mp = median(d), median(p)
    return md, mp, (mp / md if md and mp else None), len(d), len(p)


GROUP_NAMES = {"hosted2": "hosted npm-internal", "group": "group npm-all"}


def group_section(r):
    """The group repository on the proxy part's instance: a two-member group hit against a hosted hit,
    and the first request after a member changes."""
    tests = r.get("gtests") or []
    gm = r.get("gmerge")
    if not tests and not gm:
        return []
    L = ["### Group repository", "",
         "The proxy instance also has a hosted `npm-internal` and the group `npm-all` (members `npm-internal`, "
         "then `npmjs`, the proxy). bench-proxy is published to `npm-internal` too and `allow_upstream` lets it "
         "come from both, so every group request asks both members (each answers from its cache) and serves "
         "the merged packument from the group's cache, keyed by the members' ETags.", ""]
    if tests:
        L.append("| test | hosted npm-internal req/s | p99 ms | group npm-all req/s | p99 ms | group hit cost: hosted req/s ÷ group req/s (aim ≤ 1.5x) | server CPU per request, group ÷ hosted |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        for t in tests:
            w = r["wrk"].get(t["id"], {})
            h, g = w.get("hosted2") or {}, w.get("group") or {}
            cost = h["rps"] / g["rps"] if h.get("rps") and g.get("rps") else None
            def per(x):
                return x["server_cpu"] / x["requests"] if x.get("requests") and x.get("server_cpu") else None
            cpu = per(g) / per(h) if per(g) and per(h) else None
            L.append(f"| {t['label']} | {fmt_rps(h['rps']) if h else '—'} | {fmt_ms(h['p99_ms']) if h else '—'} | "
                     f"{fmt_rps(g['rps']) if g else '—'} | {fmt_ms(g['p99_ms']) if g else '—'} | "
                     + (f"{cost:.2f}x ({verdict(cost, 1.5)})" if cost else "—") + " | "
                     + (f"{cpu:.2f}x" if cpu else "—") + " |")
        L.append("")
    if gm:
        mg, mh = median(gm.get("group_ms") or []), median(gm.get("hosted_ms") or [])
        L.append(f"First GET after a member changes (bench-big, {gm.get('versions')} versions in `npm-internal`, a new "
                 "version published before each GET, curl `time_total`): through the group "
                 + ", ".join(f"{x:.1f}" for x in gm.get("group_ms") or []) + " ms"
                 + (f" (median {mg:.1f} ms; aim < 50 ms: {verdict_below(mg, 50)})" if mg is not None else "")
                 + "; the hosted member alone " + ", ".join(f"{x:.1f}" for x in gm.get("hosted_ms") or []) + " ms"
                 + (f" (median {mh:.1f} ms)" if mh is not None else "") + ".")
        L.append("")
    return L


def verdict_below(x, limit):
    return "met" if x < limit else "**not met**"


def proxy_section(r):
    L = ["## npm proxy repository", ""]
    tests = r["ptests"]
    if tests:
        L.append("The upstream is this run's packgate: its hosted `npm` repository (**hosted**). The **proxy** is "
                 "a second packgate whose only repository, `npmjs` (`type = \"proxy\"`, `metadata_ttl = \"1h\"`), "
                 "proxies it. The proxy's cache is warmed first (one GET of each document and file through it) "
                 "and checked: the next GETs answer `X-Packgate-Cache: hit`, the tarball bytes equal the "
                 "hosted ones and every `dist.tarball` points at the proxy; so every measured proxy request is "
                 "a cache hit (the upstream requests counted during each proxy run are listed below). nginx "
                 "serves the hosted bytes as static files. Load average (1/5/15 min) when the reads started: "
                 f"{r.get('pload', '?')}.")
        L.append("")
        tg = ("packgate", "proxy", "nginx")
        L.append("| test | " + " | ".join(f"{PROXY_NAMES[t]} req/s | p50 ms | p99 ms" for t in tg) + " |")
        L.append("|---|" + "---:|---:|---:|" * len(tg))
        for t in tests:
            cells = []
            for tgt in tg:
                x = r["wrk"].get(t["id"], {}).get(tgt)
                if x is None:
                    cells += ["—", "—", "—"]
                    continue
                flag = ""
                if x.get("non2xx") or x.get("socket_errors"):
                    flag = f" ⚠ {x.get('non2xx', 0)} non-2xx, {x.get('socket_errors', 0)} socket errors"
                cells += [fmt_rps(x["rps"]) + flag, fmt_ms(x["p50_ms"]), fmt_ms(x["p99_ms"])]
            L.append(f"| {t['label']} | " + " | ".join(cells) + " |")
        L.append("")
        L.append("| test | proxy ÷ hosted (req/s) | proxy hit cost: hosted req/s ÷ proxy req/s (aim ≤ 1.2x) | "
                 "server CPU per request, proxy ÷ hosted | hosted ÷ nginx | proxy ÷ nginx |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for t in tests:
            w = r["wrk"].get(t["id"], {})
            rps = {k: (w.get(k) or {}).get("rps") for k in tg}
            cost = rps["packgate"] / rps["proxy"] if rps["packgate"] and rps["proxy"] else None
            def per(k):
                x = w.get(k) or {}
                return x["server_cpu"] / x["requests"] if x.get("requests") and x.get("server_cpu") else None
            cpu = per("proxy") / per("packgate") if per("proxy") and per("packgate") else None
            L.append(f"| {t['label']} | {ratio(rps['proxy'], rps['packgate'])} | "
                     + (f"{cost:.2f}x ({verdict(cost, 1.2)})" if cost else "—") + " | "
                     + (f"{cpu:.2f}x" if cpu else "—") + f" | {ratio(rps['packgate'], rps['nginx'])} | "
                     f"{ratio(rps['proxy'], rps['nginx'])} |")
        L.append("")
        ups = []
        for t in tests:
            x = r["wrk"].get(t["id"], {}).get("proxy") or {}
            if "upstream" in x:
                ev = x.get("proxy", {}).get("proxy_events", {})
                ups.append(f"{t['label'].split(',')[0]}: {x['upstream']['requests']:,} upstream requests "
                           f"(proxy events: " + (", ".join(f"{k} {v:,}" for k, v in sorted(ev.items())) or "none") + ")")
        if ups:
            L.append("During the proxy runs: " + "; ".join(ups) + ".")
            L.append("")
        L.append("Sizes: " + ", ".join(f"{k} {v:,} B" for k, v in r.get("psizes", {}).items()) + ".")
        L.append("")
        L.append("### CPU split during each proxy-part run (CPU-seconds over the run; 2 cores = 2 s per second)")
        L.append("")
        L += cpu_table(r, tests, tg, bytes_per_response=True, names=PROXY_NAMES)
        L.append("")

    L += group_section(r)
    pi = r.get("pinstall")
    if pi is not None or tests:
        L.append("### Cold `npm install express@4`: through a fresh proxy against straight from the upstream")
        L.append("")
    if pi is not None and pi.get("skipped"):
        L.append(f"Skipped: {pi['skipped']}")
        L.append("")
    elif pi:
        tree = pi.get("tree", {})
        pub = pi.get("publish", {})
        L.append(f"The express@4 tree (express {tree.get('express', '?')}, {tree.get('packages', '?')} packages, "
                 f"{tree.get('bytes', 0):,} B of tarballs; the registry's own tarballs, {tree.get('source', '?')}, "
                 "checked against the lockfile's integrity) was published to the hosted repository with "
                 f"`npm publish FILE.tgz --ignore-scripts` ({pub.get('published', '?')} publishes in "
                 f"{pub.get('seconds', '?')} s, {pub.get('workers', '?')} at a time). Each round: `npm install "
                 "express@4 --no-audit --no-fund --ignore-scripts` into an empty project with an empty npm cache, "
                 "straight from the hosted repository, then through a proxy started fresh for the round "
                 "(new data dir" + (", database and key prefix" if r.get("stack") == "pg-s3" else "")
                 + "; its start-up is not timed). Wall-clock seconds of the `npm` process, and CPU-seconds "
                 "spent meanwhile by the upstream packgate, the proxy and the whole machine (which includes npm, "
                 "and PostgreSQL and the S3 server on that stack):")
        L.append("")
        L.append("| round | straight from the upstream s | through a cold proxy s | upstream requests in the proxy round | proxy peak RSS (VmHWM) | CPU s straight: upstream / machine | CPU s through the proxy: upstream / proxy / machine |")
        L.append("|---:|---:|---:|---|---:|---:|---:|")
        rounds = pi.get("rounds", {}).get("_list", [])
        def cell(x):
            if not x:
                return "—"
            bad = []
            if x["exit"] != 0:
                bad.append(f"exit {x['exit']}")
            if tree and x["packages"] != tree.get("packages"):
                bad.append(f"{x['packages']} packages")
            if x.get("resolved_elsewhere"):
                bad.append(f"{x['resolved_elsewhere']} URLs elsewhere")
            return f"{x['seconds']:.2f}" + (f" ⚠ {', '.join(bad)}" if bad else "")
        for i in sorted({x["round"] for x in rounds}):
            d = next((x for x in rounds if x["round"] == i and x["mode"] == "direct"), None)
            p = next((x for x in rounds if x["round"] == i and x["mode"] == "proxy"), None)
            up = ", ".join(f"{k} {v}" for k, v in sorted((p or {}).get("upstream", {}).get("routes", {}).items())) or "—"
            def cpu(x, keys):
                if not x or any(k not in x for k in keys):
                    return "—"
                return " / ".join(f"{x[k]:.2f}" for k in keys)
            L.append(f"| {i} | {cell(d)} | {cell(p)} | {up} | {fmt_mib((p or {}).get('proxy_hwm_kib'))} "
                     f"| {cpu(d, ['cpu_upstream', 'cpu_machine'])} | {cpu(p, ['cpu_upstream', 'cpu_proxy', 'cpu_machine'])} |")
        md, mp, rat, nd, np_ = install_summary(r)
        L.append(f"| **median** | {md:.2f} | {mp:.2f} | | | | |" if md and mp else "| **median** | — | — | | | | |")
        L.append("")
        L.append("Cold install through the proxy ÷ straight from the upstream (medians): "
                 + (f"**{rat:.2f}x** (aim ≤ 1.3x: {verdict(rat, 1.3)})" if rat else "—")
                 + f"; rounds that installed the whole tree: {nd} straight, {np_} through the proxy.")
        L.append("")

    g = r.get("pbig")
    if g is not None or tests:
        L.append("### Memory: a 1 GiB tarball through a cold proxy to two clients at once (VmRSS every 0.2 s)")
        L.append("")
    if g is not None and g.get("skipped"):
        L.append(f"Skipped: {g['skipped']}")
        L.append("")
    elif g and g.get("result"):
        x = g["result"]
        L.append(f"A fresh upstream packgate holds one tarball of {x['tgz_bytes']:,} B (random bytes, published "
                 "as in the npm part's streaming test); a fresh proxy of it (`max_upload = 2 GiB`, the largest "
                 "file it fetches) is asked for it by two `curl` clients at the same moment.")
        L.append("")
        L.append("| proxy VmRSS idle | right before | max during the fetch | **peak delta** | at the end | VmHWM | both clients done after |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|")
        L.append(f"| {fmt_mib(g.get('idle'))} | {fmt_mib(x['before'])} | {fmt_mib(x['max_rss'])} ({x['samples']} samples) | "
                 f"**{fmt_mib(x['max_rss'] - x['before'])}** | {fmt_mib(g.get('end'))} | {fmt_mib(g.get('hwm'))} | "
                 f"{x['seconds']:.1f} s |")
        L.append("")
        L.append("| client | HTTP | X-Packgate-Cache | bytes | seconds | curl exit | bytes intact |")
        L.append("|---:|---:|---|---:|---:|---:|---|")
        for i, c in enumerate(x["clients"], 1):
            L.append(f"| {i} | {c['http'] or '—'} | {c['cache'] or '—'} | {c['bytes']:,} | "
                     + (f"{c['seconds']:.1f}" if c.get("seconds") is not None else "—")
                     + f" | {c.get('curl_exit', '—')} | {'yes' if c['intact'] else '**no**'} |")
        L.append("")
    return L


def prepare(r):
    r.setdefault("wrk", {})
    r.setdefault("publish", {})
    r["notes"] = r.get("notes", {}).get("_list", [])
    r["tests"] = r.get("tests", {}).get("_list", [])
    r["ctests"] = r.get("ctests", {}).get("_list", [])
    r["rtests"] = r.get("rtests", {}).get("_list", [])
    r["rerender"] = r.get("rerender", {}).get("_list", [])
    r["ntests"] = r.get("ntests", {}).get("_list", [])
    r["ptests"] = r.get("ptests", {}).get("_list", [])
    r["gtests"] = r.get("gtests", {}).get("_list", [])
    return r


def render_one(r):
    npm = bool(r["tests"])
    L = []
    full = r.get("parts", "npm+cargo") in PART_LISTS
    L.append(f"# packgate benchmark, {r['date']}" + ("" if full else f" ({r['parts']} part only)")
             + (f", {STACK_NAMES.get(r['stack'], r['stack'])}" if r.get("stack") else ""))
    L.append("")
    if r.get("stack_label"):
        L.append(f"Stack: {r['stack_label']}.")
        L.append("")
    versions = f"packgate {r['packgate_version']} (release build, git {r['git']}), "
    if r.get("verdaccio_version"):
        versions += f"Verdaccio {r['verdaccio_version']} on Node {r['node_version']}, "
    L.append(f"Machine: {r['machine']}. {versions}{r['nginx_version']}, wrk "
             f"`-t2 -c64 -d{r['duration']}s --latency`" + (" (`-c8` for 50 MiB)" if npm else "")
             + ". The load generator and the server share the same 2 cores; load average at the start "
             f"(1/5/15 min): {r.get('loadavg', '?')}.")
    L.append("")
    if npm:
        L.append("## Reads (wrk)")
        L.append("")
        L += reads_table(r, r["tests"], ("packgate", "verdaccio", "nginx"))
        L.append("")
        L.append("Body sizes: " + ", ".join(f"{k} {v:,} B" for k, v in r.get("sizes", {}).items()) + ".")
        L.append("")
        L.append("### CPU split during each run (CPU-seconds over the run; 2 cores = 2 s per second)")
        L.append("")
        L += cpu_table(r, r["tests"], ("packgate", "verdaccio", "nginx"))
        L.append("")
    if r["ctests"]:
        L.append("## Cargo reads (wrk)")
        L.append("")
        L.append("packgate's hosted cargo repository (`/cargo/`) against nginx serving the same index file "
                 "and `.crate` bytes as static files (for the 304 test each server gets its own ETag in "
                 "`If-None-Match`: packgate's, and nginx's `\"mtime-size\"`).")
        L.append("")
        L += reads_table(r, r["ctests"], ("packgate", "nginx"))
        L.append("")
        L.append("Sizes: " + ", ".join(f"{k} {v:,} B" for k, v in r.get("csizes", {}).items()) + ".")
        L.append("")
        L.append("### CPU split during each cargo run (CPU-seconds over the run; 2 cores = 2 s per second)")
        L.append("")
        L += cpu_table(r, r["ctests"], ("packgate", "nginx"), bytes_per_response=True)
        L.append("")
    if r["rtests"] or r.get("gseed"):
        L += rubygems_section(r)
    if r["ntests"] or r.get("nseed"):
        L += nuget_section(r)
    if npm:
        L.append("## Publishes (new versions of one package, small tarballs)")
        L.append("")
        L.append("| mode | packgate publishes/s | p99 ms | stored / sent | Verdaccio publishes/s | p99 ms | stored / sent |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        for mode, label in (("seq", "sequential, 200 one after another"), ("conc", "8 concurrent workers, 200 total")):
            cells = []
            for tgt in ("packgate", "verdaccio"):
                x = r["publish"].get(mode, {}).get(tgt)
                if not x:
                    cells += ["—", "—", "—"]
                    continue
                bad = {k: v for k, v in x["statuses"].items() if k not in ("200", "201")}
                note = f" (errors: {bad})" if bad else ""
                cells += [f"{x['per_sec']:.1f}{note}", fmt_ms(x["p99_ms"]), f"{x['versions_stored']} / {x['count']}"]
            L.append(f"| {label} | " + " | ".join(cells) + " |")
        L.append("")
        L.append("CPU-seconds during each publish test (server / whole machine, which includes the Python "
                 "client and other processes): " + "; ".join(
                     f"{tgt} {mode} {r['publish'][mode][tgt].get('server_cpu', '?')} / {r['publish'][mode][tgt].get('machine_cpu', '?')} "
                     f"over {r['publish'][mode][tgt]['seconds']:.2f} s"
                     for mode in ("seq", "conc") for tgt in ("packgate", "verdaccio")
                     if r["publish"].get(mode, {}).get(tgt)) + ".")
        L.append("")
    if r["ptests"] or r.get("pinstall") or r.get("pbig"):
        L += proxy_section(r)
    L.append("## Memory")
    L.append("")
    m = r["memory"]
    cols = [t for t in ("packgate", "verdaccio", "proxy") if t in m]
    L.append("| | " + " | ".join(TARGET_NAMES[t] + (" (proxy part)" if t == "proxy" else "") for t in cols) + " |")
    L.append("|---|" + "---:|" * len(cols))
    seeded = "RSS after seeding" + (" (incl. the 50 MiB publish)" if npm else "")
    for label, key in (("idle RSS right after start (VmRSS)", "idle"), (seeded, "after_seed"),
                       ("RSS after warming its cache (proxy)", "after_warm"),
                       ("peak RSS after all loads (VmHWM)", "peak"), ("RSS at the end (VmRSS)", "end")):
        if any(key in m[t] for t in cols):
            L.append(f"| {label} | " + " | ".join(fmt_mib(m[t].get(key)) for t in cols) + " |")
    L.append("")
    g = r.get("big")
    if npm or g:
        L.append("## Large tarball: packgate memory while streaming (VmRSS sampled every 0.2 s)")
        L.append("")
        if not g or g.get("skipped"):
            L.append(f"Skipped: {g.get('skipped') if g else 'not run'}")
        else:
            L.append("A fresh packgate with `PACKGATE__SERVER__MAX_UPLOAD=\"2 GiB\"`; the publish body is "
                     "npm's JSON with the tarball in base64, sent by `curl -T` from a file.")
            L.append("")
            L.append("| tarball | phase | bytes on the wire | time s | throughput | HTTP | VmRSS before | max VmRSS during |")
            L.append("|---|---|---:|---:|---:|---:|---:|---:|")
            L.append(f"| — | idle, fresh instance | | | | | {fmt_mib(g.get('idle'))} | |")
            for rd in g.get("rounds", {}).get("_list", []):
                x = g.get(rd["key"], {})
                for ph in ("upload", "download"):
                    p = x.get(ph)
                    if not p:
                        continue
                    mbps = p["bytes"] / p["seconds"] / (1 << 20) if p["seconds"] else 0
                    before = x.get("before") if ph == "upload" else None
                    http = str(p["http"])
                    if ph == "upload" and p.get("http") not in (200, 201):
                        http += f" `{p.get('answer', '')[:80]}`"
                    if ph == "download" and p.get("intact") is not None:
                        http += " (bytes intact)" if p["intact"] else " (BYTES DIFFER)"
                    L.append(f"| {rd['label']} ({rd['tgz_bytes'] / (1 << 20):,.0f} MiB .tgz) | {ph} | {p['bytes']:,} | "
                             f"{p['seconds']:.1f} | {mbps:,.0f} MiB/s | {http} | {fmt_mib(before)} | {fmt_mib(p['max_rss'])} |")
            L.append(f"| — | end of test: VmRSS / VmHWM (peak over the process's life) | | | | | {fmt_mib(g.get('end'))} | {fmt_mib(g.get('hwm'))} |")
        L.append("")
    if r.get("notes"):
        L.append("## Notes from this run")
        L.append("")
        for n in r["notes"]:
            L.append(f"- {n}")
        L.append("")
    return L


def side_by_side(stacks):
    """One table: every wrk test's packgate req/s and ratio to nginx on each stack, then the
    publishes, the proxy's cold installs and 1 GiB test, and peak memory."""
    names = [n for n, _ in stacks]
    L = ["## Stacks side by side", "",
         "packgate ÷ nginx (nginx serving the same bytes, measured in the same stack's run) for every wrk "
         "test; the sections below have everything else.", "",
         "| part | test | server | " + " | ".join(f"{STACK_NAMES.get(n, n)} req/s | ÷ nginx" for n in names) + " |",
         "|---|---|---|" + "---:|---:|" * len(names)]
    for key, part, servers in (("tests", "npm", ("packgate",)), ("ctests", "cargo", ("packgate",)),
                               ("rtests", "rubygems", ("packgate",)), ("ntests", "nuget", ("packgate",)),
                               ("ptests", "proxy", ("packgate", "proxy"))):
        seen = []
        for _, r in stacks:
            for t in r[key]:
                if t["id"] not in [x["id"] for x in seen]:
                    seen.append(t)
        for t in seen:
            for srv in servers:
                cells = []
                for _, r in stacks:
                    w = r["wrk"].get(t["id"], {})
                    x, n = w.get(srv), w.get("nginx")
                    cells += [fmt_rps(x["rps"]) if x else "—", ratio(x and x["rps"], n and n["rps"])]
                who = PROXY_NAMES[srv] if key == "ptests" else TARGET_NAMES[srv]
                L.append(f"| {part} | {t['label']} | {who} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("| | " + " | ".join(STACK_NAMES.get(n, n) for n in names) + " |")
    L.append("|---|" + "---:|" * len(names))
    rows = []
    for mode, label in (("seq", "npm publishes/s, sequential"), ("conc", "npm publishes/s, 8 concurrent")):
        vals = [(r["publish"].get(mode, {}).get("packgate") or {}).get("per_sec") for _, r in stacks]
        if any(v is not None for v in vals):
            rows.append((label, [f"{v:,.1f}" if v is not None else "—" for v in vals]))
    if any(r.get("pinstall") for _, r in stacks):
        vals = []
        for _, r in stacks:
            md, mp, rat, _, _ = install_summary(r)
            vals.append(f"{mp:.2f} s ÷ {md:.2f} s = {rat:.2f}x ({verdict(rat, 1.3)})" if rat else "—")
        rows.append(("cold `npm install express@4`, proxy ÷ upstream (medians; aim ≤ 1.3x)", vals))
    if any(r.get("pbig") for _, r in stacks):
        vals = []
        for _, r in stacks:
            x = (r.get("pbig") or {}).get("result")
            vals.append(fmt_mib(x["max_rss"] - x["before"]) if x else "—")
        rows.append(("proxy RSS peak delta, 1 GiB through a cold proxy to 2 clients", vals))
    vals = [fmt_mib(r.get("memory", {}).get("packgate", {}).get("peak")) for _, r in stacks]
    rows.append(("packgate peak RSS after the loads (VmHWM)", vals))
    for label, vals in rows:
        L.append(f"| {label} | " + " | ".join(vals) + " |")
    L.append("")
    return L


def cmd_table(a):
    r = load_results(a.results)
    if "stacks" not in r:
        L = render_one(prepare(r))
    else:
        stacks = [(n, prepare(x)) for n, x in r["stacks"].items()]
        first = stacks[0][1]
        full = first.get("parts", "npm+cargo") in PART_LISTS
        L = [f"# packgate benchmark, {first['date']}" + ("" if full else f" ({first['parts']} part only)")
             + ", on " + " and on ".join(STACK_NAMES.get(n, n) for n, _ in stacks), "",
             "Each stack ran in turn in the same invocation of `bench/run.sh` (`BENCH_STACK=both`), with "
             "the same binary, the same loads and its own nginx; each section below is that stack's full "
             "report.", ""]
        L += side_by_side(stacks)
        for n, x in stacks:
            for line in render_one(x):
                L.append("#" + line if line.startswith("#") else line)
    text = "\n".join(L)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("tgz")
    s.add_argument("--name", required=True)
    s.add_argument("--version", required=True)
    s.add_argument("--size", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(f=cmd_tgz)
    s = sub.add_parser("body")
    s.add_argument("--name", required=True)
    s.add_argument("--version", required=True)
    s.add_argument("--registry", required=True)
    s.add_argument("--tgz", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(f=cmd_body)
    s = sub.add_parser("seed")
    s.add_argument("--registry", required=True)
    s.add_argument("--token")
    s.add_argument("--name", default="bench-pkg")
    s.add_argument("--versions", type=int, default=0)
    s.add_argument("--tgz-dir", default=".")
    s.add_argument("--file", action="append", help="NAME:VERSION:PATH, a tarball to publish")
    s.set_defaults(f=cmd_seed)
    s = sub.add_parser("pubbench")
    s.add_argument("--registry", required=True)
    s.add_argument("--token")
    s.add_argument("--name", required=True)
    s.add_argument("--count", type=int, default=200)
    s.add_argument("--workers", type=int, default=1)
    s.set_defaults(f=cmd_pubbench)
    s = sub.add_parser("crate")
    s.add_argument("--name", required=True)
    s.add_argument("--version", required=True)
    s.add_argument("--size", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(f=cmd_crate)
    s = sub.add_parser("cargo-seed")
    s.add_argument("--registry", required=True, help="base of the cargo repository, e.g. http://127.0.0.1:PORT/cargo/")
    s.add_argument("--token")
    s.add_argument("--name", default="bench-crate")
    s.add_argument("--versions", type=int, default=0)
    s.add_argument("--crate-dir", default=".")
    s.add_argument("--file", action="append", help="NAME:VERSION:PATH, a .crate to publish")
    s.set_defaults(f=cmd_cargo_seed)
    s = sub.add_parser("gem")
    s.add_argument("--name", required=True)
    s.add_argument("--version", required=True)
    s.add_argument("--deps", action="store_true", help="the dependencies of the many-version gem")
    s.add_argument("--index", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(f=cmd_gem)
    s = sub.add_parser("gem-seed")
    s.add_argument("--registry", required=True, help="base of the RubyGems source, e.g. http://127.0.0.1:PORT/rubygems/")
    s.add_argument("--token", required=True)
    s.add_argument("--count", type=int, default=10000)
    s.add_argument("--prefix", default="bench-gem-")
    s.add_argument("--multi-name", default="bench-gem")
    s.add_argument("--multi-versions", type=int, default=50)
    s.add_argument("--workers", type=int, default=4)
    s.set_defaults(f=cmd_gem_seed)
    s = sub.add_parser("nupkg")
    s.add_argument("--id", required=True)
    s.add_argument("--version", required=True)
    s.add_argument("--size", required=True, help="size of the random lib/netstandard2.0/{id}.dll")
    s.add_argument("--out", required=True)
    s.set_defaults(f=cmd_nupkg)
    s = sub.add_parser("nuget-seed")
    s.add_argument("--registry", required=True, help="the v3 base, e.g. http://127.0.0.1:PORT/nuget/v3/")
    s.add_argument("--token", required=True)
    s.add_argument("--id", default="Bench.Package")
    s.add_argument("--versions", type=int, default=200)
    s.add_argument("--dll-bytes", type=int, default=512)
    s.add_argument("--file", action="append", help="ID:VERSION:PATH, a .nupkg to push")
    s.add_argument("--workers", type=int, default=4)
    s.set_defaults(f=cmd_nuget_seed)
    s = sub.add_parser("count")
    s.add_argument("file")
    s.set_defaults(f=cmd_count)
    s = sub.add_parser("npm-tree")
    s.add_argument("--lock", required=True, help="package-lock.json of an install")
    s.add_argument("--pack-json", help="the output of `npm pack --json` for those packages")
    s.add_argument("--dir", default=".", help="where the packed tarballs are (tree.tsv is written there)")
    s.set_defaults(f=cmd_npm_tree)
    s = sub.add_parser("npm-publish-tree")
    s.add_argument("--dir", required=True, help="a directory holding tree.tsv and its tarballs")
    s.add_argument("--registry", required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--work", required=True, help="scratch directory (npmrc, npm caches)")
    s.add_argument("--workers", type=int, default=4)
    s.set_defaults(f=cmd_npm_publish_tree)
    s = sub.add_parser("install-check")
    s.add_argument("dir", help="the project directory npm installed into")
    s.add_argument("--registry", required=True, help="the registry every resolved URL should start with")
    s.set_defaults(f=cmd_install_check)
    s = sub.add_parser("reqdelta")
    s.add_argument("before")
    s.add_argument("after")
    s.set_defaults(f=cmd_reqdelta)
    s = sub.add_parser("wrkparse")
    s.add_argument("file")
    s.set_defaults(f=cmd_wrkparse)
    s = sub.add_parser("cpu")
    s.add_argument("pid", type=int)
    s.set_defaults(f=cmd_cpu)
    s = sub.add_parser("busy")
    s.set_defaults(f=cmd_busy)
    s = sub.add_parser("metrics")
    s.add_argument("file")
    s.set_defaults(f=cmd_metrics)
    s = sub.add_parser("table")
    s.add_argument("results")
    s.add_argument("out")
    s.set_defaults(f=cmd_table)
    a = p.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
