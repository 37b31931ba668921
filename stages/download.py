"""Stage `download`: fetch and verify every dataset the active profile needs into data.root (mirror first)."""

from __future__ import annotations

import argparse

from denoisebench.config import data_mirror, data_root, load_params
from denoisebench.fsutil import write_json_atomic
from denoisebench.stage_support import LOG, datasets_needed, setup_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    setup_logging()
    from denoisebench.datasets import fetch_dataset, verify_dataset

    params = load_params(args.params)
    root, mirror = data_root(params), data_mirror(params)
    root.mkdir(parents=True, exist_ok=True)
    fetched = {}
    for name in datasets_needed(params):
        LOG.info("fetching %s (mirror: %s)", name, mirror or "none, official URLs")
        folder = fetch_dataset(name, root, mirror=mirror)
        report = verify_dataset(name, root)
        fetched[name] = {"folder": folder.name, "verified": bool(report.ok)}
    write_json_atomic(root / "fetched.json", fetched)


if __name__ == "__main__":
    main()
