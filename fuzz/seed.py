#!/usr/bin/env python3
"""Seeds the fuzz corpora from the shared reference files (stdlib only).

    python3 seed.py [SHARED_DIR]

SHARED_DIR defaults to ../../shared relative to this script. Writes
corpus/credential/, corpus/listings/ and corpus/catalogue/ next to this
script; each file is named by the SHA-1 of its content, so running it again
adds nothing twice and keeps whatever libFuzzer has added.

With a built `xinyi-hub` (../target/debug or ../target/release), it also
sets up a registry from the shared vectors in a temporary directory and
exports a data bundle: corpus/bundle/ gets the bundle and its signed
metadata, corpus/eligibility/ the bundle's eligibility artefact,
decompressed.
"""

import hashlib
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def qr_strings(node):
    """Every string under a "qr" key, anywhere in the JSON."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "qr" and isinstance(value, str):
                yield value
            else:
                yield from qr_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from qr_strings(item)


def write(directory, blobs):
    directory.mkdir(parents=True, exist_ok=True)
    new = 0
    for blob in blobs:
        path = directory / hashlib.sha1(blob).hexdigest()
        if not path.exists():
            path.write_bytes(blob)
            new += 1
    total = sum(1 for _ in directory.iterdir())
    print(f"{directory.relative_to(HERE)}: {new} new, {total} in all")


def main():
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared"
    shared = shared.resolve()
    vectors = shared / "vectors"

    credentials = json.loads((vectors / "credentials.json").read_text(encoding="utf-8"))
    texts = list(qr_strings(credentials))
    manifest = json.loads((shared / "corpus" / "manifest.json").read_text(encoding="utf-8"))
    texts += [t for t in manifest.get("frames", {}).values() if t is not None]
    write(HERE / "corpus" / "credential", [t.encode("utf-8") for t in texts])

    write(HERE / "corpus" / "listings", [p.read_bytes() for p in sorted(vectors.glob("*.csv"))])

    write(HERE / "corpus" / "catalogue", [(shared / "data" / "measures.toml").read_bytes()])

    bundle = export_bundle(shared)
    if bundle is None:
        print("no xinyi-hub built: corpus/bundle and corpus/eligibility not seeded")
        return
    meta_len = struct.unpack(">I", bundle[4:8])[0]
    metadata = bundle[8 : 8 + meta_len]
    at = 8 + meta_len
    config_len = struct.unpack(">I", bundle[at : at + 4])[0]
    at += 4 + config_len
    elig_len = struct.unpack(">Q", bundle[at : at + 8])[0]
    eligibility = zlib.decompress(bundle[at + 8 : at + 8 + elig_len])
    write(HERE / "corpus" / "bundle", [bundle, metadata])
    write(HERE / "corpus" / "eligibility", [eligibility])


def export_bundle(shared):
    """A data bundle of a registry holding the shared vectors, or None."""
    hub = next(
        (p for p in (HERE.parent / "target" / d / "xinyi-hub" for d in ("release", "debug")) if p.exists()),
        None,
    )
    if hub is None:
        return None
    vectors = shared / "vectors"
    with tempfile.TemporaryDirectory() as tmp:
        def run(*args):
            subprocess.run([str(hub), "--data-dir", f"{tmp}/hub", *args], check=True, capture_output=True)

        run("init")
        run("catalogue", "publish", str(shared / "data" / "measures.toml"))
        run("import", "listings", str(vectors / "listings.csv"))
        run("import", "exclusions", str(vectors / "exclusions.csv"))
        run("site", "add", "bus-1", "--name", "bus", "--unit", "unit", "--measures", "XYX-BUS-TOPUP")
        run("bundle", "export", "--out", f"{tmp}/data.xyb")
        return Path(f"{tmp}/data.xyb").read_bytes()


if __name__ == "__main__":
    main()
