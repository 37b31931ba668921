"""The pipeline's per-entry stages: one incremental runner (:mod:`.runner`) shared by ``train`` (:mod:`.train`,
its worker :mod:`.train_worker`), ``predict`` (:mod:`.predict`) and ``score`` (:mod:`.score`), with build records
(:mod:`.record`), depfiles of the modules each entry ran through (:mod:`.depfile`), content digests of its
inputs (:mod:`.inputs`) and ``denoisebench status`` (:mod:`.status`). ``stages/*.py`` are thin entry points."""
