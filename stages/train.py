"""Stage `train`: train every learned and cascade entry, rebuilding only the stale ones (see
:mod:`denoisebench.pipeline.train`); ``--entry E`` trains one entry in this process."""

from denoisebench.pipeline.train_worker import main
from denoisebench.stage_support import run_stage

if __name__ == "__main__":
    run_stage(main)
