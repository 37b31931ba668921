"""Plumbing shared by the per-image (zero-shot and test-time-adapted) denoisers: :mod:`.common` (tensors,
padding, seeding, partial convolution, iteration snapshots, the run record). Method-specific parts (masks,
T-standout, losses) live in the paper packages.
"""
