#!/usr/bin/env python3
"""Seeds the fuzz corpora from the shared reference files (stdlib only).

    python3 seed.py [SHARED_DIR]

SHARED_DIR defaults to ../../shared relative to this script. Writes
corpus/credential/, corpus/listings/ and corpus/catalogue/ next to this
script; each file is named by the SHA-1 of its content, so running it again
adds nothing twice and keeps whatever libFuzzer has added.
"""

import hashlib
import json
import sys
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


if __name__ == "__main__":
    main()
