#!/usr/bin/env python3
"""Makes the kiosk's CJK font subsets from Noto Sans SC (SIL OFL 1.1).

Keeps: ASCII, Latin-1, general punctuation and the symbols the UI draws,
CJK punctuation and full-width forms, all 6,763 characters of GB 2312
(masked names, site and measure names from the registry), and every
non-ASCII character found in the UI and the terminal's and demo's source.

    pip install fonttools
    python3 assets/fonts/subset.py NotoSansSC-Regular.ttf NotoSansSC-Bold.ttf

The sources are the static Regular and Bold TTFs of Noto Sans SC (for
example from the npm package @expo-google-fonts/noto-sans-sc).
"""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCAN = [
    ("ui", "*.slint"),
    ("src", "*.rs"),
    ("crates/hub/src", "*.rs"),
    ("crates/core/src", "*.rs"),
    ("assets/demo", "*"),
    ("assets/examples", "*"),
]


def gb2312():
    out = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return out


def main(sources):
    chars = set(chr(c) for c in range(0x20, 0x7F))
    chars |= set(chr(c) for c in range(0xA0, 0x180))
    chars |= set(chr(c) for c in range(0x2000, 0x2070))  # general punctuation
    chars |= set(chr(c) for c in range(0x3000, 0x3040))  # CJK punctuation
    chars |= set(chr(c) for c in range(0xFF00, 0xFFF0))  # full-width forms
    chars |= set("✓✕⌫●○−→←↑↓×÷¥￥℃№")
    chars |= set(gb2312())
    for d, pattern in SCAN:
        for p in sorted((ROOT / d).rglob(pattern)):
            if p.is_file():
                chars |= {c for c in p.read_text(errors="ignore") if ord(c) > 0x7F}
    text = "".join(sorted(c for c in chars if c.isprintable() or c == " "))
    here = pathlib.Path(__file__).resolve().parent
    (here / "chars.txt").write_text(text, encoding="utf-8")
    for src in sources:
        weight = "Bold" if "Bold" in src else "Regular"
        out = here / f"NotoSansSC-{weight}.ttf"
        subprocess.run(
            [
                "pyftsubset", src,
                f"--text-file={here / 'chars.txt'}",
                f"--output-file={out}",
                "--layout-features=*",
                "--no-hinting",
                "--desubroutinize",
                "--name-IDs=*",
                "--name-languages=*",
            ],
            check=True,
        )
        print(out, out.stat().st_size)


if __name__ == "__main__":
    main(sys.argv[1:])
