"""``denoisebench preflight``: the datasets and released models a profile needs, and which are missing."""

from __future__ import annotations

import argparse

from denoisebench.cli import register


def setup(p: argparse.ArgumentParser) -> None:
    """The ``preflight`` options."""
    p.add_argument("--profile", help="profile to check (default: params.yaml's `profile`)")
    p.add_argument("--params", help="params.yaml (default: the project root's)")
    p.add_argument("--offline", action="store_true", help="count items that only a URL provides as missing "
                   "(default: env DENOISEBENCH_OFFLINE=1)")


def run(args: argparse.Namespace) -> int:
    """Print the preflight table; a missing item raises one DatasetError naming them all (exit 2)."""
    import os
    import sys

    from denoisebench.config import PROFILES, find_params_file, load_params
    from denoisebench.errors import ConfigError
    from denoisebench.preflight import OFFLINE_ENV, check, format_table, preflight

    path = find_params_file(args.params)
    if path is None:
        raise ConfigError("no params.yaml found: run inside a denoisebench checkout or give --params")
    params = load_params(path)
    if args.profile is not None:
        if args.profile not in PROFILES:
            raise ConfigError(f"--profile {args.profile!r} is not one of {', '.join(PROFILES)}")
        params["profile"] = args.profile
    items = preflight(params, path.parent)
    print(f"preflight of profile {params.get('profile')} ({path})")
    offline = args.offline or os.environ.get(OFFLINE_ENV, "") not in ("", "0")
    print(format_table(items, offline))
    sys.stdout.flush()
    check(items, offline)
    return 0


register("preflight", run, setup, "check every dataset and released model a profile needs (no download)",
         "denoisebench preflight --profile paper --offline")
