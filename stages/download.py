"""Stage `download`: fetch and verify every dataset the active profile needs into data.root (mirror first), and
the released models that `pretrained` entries use into data.root/weights (weights mirror first: data.weights_mirror,
$DENOISEBENCH_WEIGHTS, or the `weights/` folder beside the data mirror).

``data/raw`` is a persistent output (``persist: true`` in dvc.yaml): DVC does not delete it before the stage runs,
so a run that fails (an unknown profile, an unreachable URL) leaves the datasets already there in place, and
files already present and verified are not fetched again. Datasets of other profiles stay in the folder.
The stage starts with the preflight (:mod:`denoisebench.preflight`): the table of every item, and one error naming
every item no source provides (with ``DENOISEBENCH_OFFLINE=1``, also those only a URL provides) before any fetch.
"""

from __future__ import annotations

import argparse
import os

from denoisebench.config import data_mirror, data_root, load_params
from denoisebench.fsutil import write_json_atomic
from denoisebench.preflight import OFFLINE_ENV, check, format_table, preflight
from denoisebench.sources import load_sources, sourced_spec
from denoisebench.stage_support import LOG, datasets_needed, pretrained_needed, setup_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    setup_logging()
    from denoisebench.datasets import fetch_dataset, verify_dataset

    params = load_params(args.params)
    names = datasets_needed(params)  # validates the profile and the plan before anything under data.root changes
    items = preflight(params)  # every item listed before the first fetch; those no source provides fail here, all at once
    LOG.info("preflight of profile %s:\n%s", params.get("profile"), format_table(items))
    check(items, offline=os.environ.get(OFFLINE_ENV, "") not in ("", "0"))
    root, mirror = data_root(params), data_mirror(params)
    root.mkdir(parents=True, exist_ok=True)
    sources = load_sources(params)  # data.sources: other servers for some sets (src/denoisebench/sources.py)
    fetched = {}
    for name in names:
        spec = sourced_spec(name, sources)
        origin = f"data.sources {sources[name]['base_url']}" if name in sources else "official URLs"
        LOG.info("fetching %s (mirror: %s; else %s)", name, mirror or "none", origin)
        folder = fetch_dataset(spec, root, mirror=mirror)
        report = verify_dataset(spec, root)
        fetched[name] = {"folder": folder.name, "verified": bool(report.ok)}
    for name in pretrained_needed(params):
        from denoisebench.pretrained import WEIGHTS_SUBDIR, fetch_weights, weights_mirror

        LOG.info("fetching pretrained %s", name)
        path = fetch_weights(name, root / WEIGHTS_SUBDIR, mirror=weights_mirror(params=params))
        fetched[f"pretrained:{name}"] = {"folder": str(path.relative_to(root)), "verified": True}
    write_json_atomic(root / "fetched.json", fetched)


if __name__ == "__main__":
    from denoisebench.stage_support import run_stage

    run_stage(main)
