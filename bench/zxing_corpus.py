"""ZXing-C++ (the zxing-cpp package from PyPI) on the decode corpus: the
yardstick for the kiosk's decode pipeline, never part of the product.

Usage: python zxing_corpus.py CORPUS_DIR OUT.json [REPS]

Each frame is decoded from JPEG to grey pixels before timing, as the Rust
side does; a frame's time is the median of REPS runs of read_barcodes with
the package's defaults (try rotate, try downscale, local-average
binarizer), QR codes only.
"""

import json
import os
import statistics
import sys
import time

import numpy
import zxingcpp
from PIL import Image


def main() -> None:
    corpus, out = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    with open(os.path.join(corpus, "manifest.json"), encoding="utf-8") as f:
        frames = json.load(f)["frames"]
    results = {}
    for name in sorted(frames):
        gray = numpy.asarray(Image.open(os.path.join(corpus, name)).convert("L"))
        times = []
        found = []
        for _ in range(reps):
            t = time.perf_counter()
            found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
            times.append((time.perf_counter() - t) * 1000.0)
        results[name] = {
            "text": found[0].text if found else None,
            "ms": statistics.median(times),
        }
    version = getattr(zxingcpp, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("zxing-cpp")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"version": version, "frames": results}, f, ensure_ascii=False, indent=1)
    read = sum(1 for n, r in results.items() if r["text"] is not None and r["text"] == frames[n])
    print(f"zxing-cpp {version}: {read} frames read, results in {out}")


if __name__ == "__main__":
    main()
