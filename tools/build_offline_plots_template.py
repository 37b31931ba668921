"""Build ``.dvc/plots/offline.html``: DVC's plots page with vega, vega-lite and vega-embed inlined, so that
``dvc plots show`` renders without network (DVC's own page loads them from a CDN).

Usage (from the repository root)::

    npm pack vega@5 vega-lite@5 vega-embed@6          # three .tgz files in the current folder
    python tools/build_offline_plots_template.py vega-*.tgz vega-lite-*.tgz vega-embed-*.tgz

``.dvc/config`` names the page (``plots.html_template``). The page keeps DVC's ``{plot_divs}`` placeholder and
drops ``{scripts}`` (the CDN tags); it records the three package versions in a comment.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

#: npm package -> its minified browser build inside the tarball.
BUILDS = {"vega": "package/build/vega.min.js", "vega-lite": "package/build/vega-lite.min.js",
          "vega-embed": "package/build/vega-embed.min.js"}
OUT = Path(".dvc/plots/offline.html")

PAGE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <meta charset="utf-8">
    <title>DVC Plot (offline)</title>
    <!-- Inlined by tools/build_offline_plots_template.py: {versions} -->
{scripts}
    <style>
        body {{ font-family: sans-serif; }}
        table {{ border-spacing: 15px; }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def _read(tgz: Path) -> tuple[str, str, str]:
    """(package name, version, minified build) of an ``npm pack`` tarball."""
    with tarfile.open(tgz) as archive:
        meta = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
        name = meta["name"]
        if name not in BUILDS:
            raise SystemExit(f"error: {tgz} is npm package {name!r}; expected one of {', '.join(BUILDS)}")
        code = archive.extractfile(BUILDS[name]).read().decode("utf-8")  # type: ignore[union-attr]
    return name, meta["version"], code


def main(argv: list[str] | None = None) -> int:
    """Read the three tarballs and write :data:`OUT` (vega first: vega-lite and vega-embed need it loaded)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tarballs", nargs=3, type=Path, help="npm pack tarballs of vega, vega-lite, vega-embed")
    parser.add_argument("--out", type=Path, default=OUT, help=f"page to write (default {OUT})")
    args = parser.parse_args(argv)
    found = {name: (version, code) for name, version, code in map(_read, args.tarballs)}
    if set(found) != set(BUILDS):
        print(f"error: need one tarball each of {', '.join(BUILDS)}; got {', '.join(found)}", file=sys.stderr)
        return 2
    scripts = "\n".join(f'    <script type="text/javascript">\n{found[name][1]}\n    </script>' for name in BUILDS)
    versions = ", ".join(f"{name}@{found[name][0]}" for name in BUILDS)
    text = PAGE.format(versions=versions, scripts=scripts)
    if "{scripts}" in text or text.count("{plot_divs}") != 1:
        print("error: a library's code contains a DVC placeholder; the page would break", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text) // 1024} KiB: {versions})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
