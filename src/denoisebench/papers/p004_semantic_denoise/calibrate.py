"""Paper 004 joint loss units (issue 11.3): gradient ratios (old vs eq. 1 units), lambda_P calibration, and PSNR
of the quick separate sigma-25 model before/after joint fine-tuning on the quick cells (first 4 images of Kodak24
and CBSD68, AWGN sigma 25 with the pipeline's per-image seeds). The numbers are in docs/paper_004.md.

Single-threaded CPU; about 10 min CPU in all. Data: env DENOISEBENCH_MIRROR (a folder with shared/data's layout).
The separate model: train `liu_separate_s25` with the quick schedule into $P004_OUT/sep_s25 first, e.g.
    python stages/train.py --entry liu_separate_s25 --out $P004_OUT   (then rename the folder to sep_s25)

Usage: python -m denoisebench.papers.p004_semantic_denoise.calibrate norms | train NAME | eval NAME    (NAME: sep for eval, or a VARIANTS key)
       python -m denoisebench.papers.p004_semantic_denoise.calibrate calibrate MODEL_PT [SIGMA]   lambda_p for a trained liu_separate model.pt
       (gradient norms on 6 batches of 4 CBSD432 96x96 crops; data from DENOISEBENCH_MIRROR or data/raw)
"""
import copy, json, os, sys, time
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
torch.set_num_threads(1)
from denoisebench.datasets import list_samples
from denoisebench.methods import build_method, DenoiseContext
from denoisebench.papers.p004_semantic_denoise.joint import gradient_norms, calibrate_lambda_p, crop_like
from denoisebench.papers.p004_semantic_denoise.highlevel import build_classifier
from denoisebench.noise import build_noise, derive_seed
from denoisebench.metrics import psnr

ROOT = os.environ.get("DENOISEBENCH_MIRROR", "data/raw")
OUT = Path(os.environ.get("P004_OUT", "/tmp/p004"))
SEP = OUT / "sep_s25" / "model.pt"
QUICK_JOINT = {"iterations": 60, "batch_size": 4, "patch_size": 96, "optimizer": "adam", "lr": 1e-4,
               "milestones": [], "seed": 0, "checkpoint_every": 20, "log_every": 5, "progress": False}


def train_images():
    return [s.clean() for s in list_samples("cbsd432", ROOT, limit=100)]


def batches(k=6, bs=4, ps=96, seed=123):
    imgs = train_images()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        clean = []
        for _ in range(bs):
            im = imgs[rng.integers(len(imgs))]
            y, x = rng.integers(im.shape[0] - ps + 1), rng.integers(im.shape[1] - ps + 1)
            clean.append(im[y:y + ps, x:x + ps].transpose(2, 0, 1))
        c = torch.from_numpy(np.stack(clean).astype(np.float32))
        n = c + (25 / 255) * torch.from_numpy(rng.standard_normal(c.shape).astype(np.float32))
        out.append((n, c))
    return out


def old_terms_norms(den, cls, bs):
    """The pre-fix units: L_D = mean over elements on [0, 1], L_P = mean over elements."""
    params = [p for p in den.parameters() if p.requires_grad]
    acc = {}
    for noisy, clean in bs:
        out = den(noisy); t = crop_like(clean, out)
        with torch.no_grad():
            lc, fc = cls.forward_with_features(t)
        lo, fo = cls.forward_with_features(out)
        terms = {"l_d": F.mse_loss(out, t), "l_p": F.mse_loss(fo, fc), "l_h": F.cross_entropy(lo, lc.argmax(1))}
        for key, v in terms.items():
            g = torch.autograd.grad(v, params, retain_graph=key != "l_h", allow_unused=True)
            acc["g" + key[1:]] = acc.get("g" + key[1:], 0) + float(torch.sqrt(sum((x ** 2).sum() for x in g if x is not None)))
            acc[key] = acc.get(key, 0) + float(v)
    return {k: v / len(bs) for k, v in acc.items()}


def norms():
    sep = build_method("liu_separate"); sep.load(SEP)
    cls = build_classifier("efficientnet_lite0")
    bs = batches()
    res = {}
    for name, fn in (("old", old_terms_norms), ("new", gradient_norms)):
        den = copy.deepcopy(sep.network()).train()
        t = time.process_time()
        res[name] = fn(den, cls, bs)
        res[name]["cpu_s"] = time.process_time() - t
    for name, lp, lh in (("old", 0.5, 0.25), ("new", 0.5, 0.25)):
        r = res[name]
        r["ratio_weighted_P_over_D"] = lp * r["g_p"] / r["g_d"]
        r["ratio_weighted_H_over_D"] = lh * r["g_h"] / r["g_d"]
    lam = calibrate_lambda_p(res["new"])
    res["lambda_p_calibrated"] = lam
    res["new"]["ratio_calibrated_P_over_D"] = lam * res["new"]["g_p"] / res["new"]["g_d"]
    print(json.dumps(res, indent=1))
    (OUT / "norms.json").write_text(json.dumps(res, indent=1))


VARIANTS = {
    "joint_new": {"lambda_d": 1.0, "lambda_h": 0.25},          # lambda_p from norms.json
    "joint_old": {"lambda_d": 1.0, "lambda_p": 0.5, "lambda_h": 0.25, "old_units": True},
    "ce_only": {"lambda_d": 0.0, "lambda_p": 0.0, "lambda_h": 1.0},
    "joint_new_lp05": {"lambda_d": 1.0, "lambda_p": 0.5, "lambda_h": 0.25},   # paper weight, uncalibrated
    "mse_only": {"lambda_d": 1.0, "lambda_p": 0.0, "lambda_h": 0.0},          # control: same steps, L_D alone
}


def train(name):
    cfg = dict(VARIANTS[name])
    old = cfg.pop("old_units", False)
    if name == "joint_new":
        cfg["lambda_p"] = round(json.loads((OUT / "norms.json").read_text())["lambda_p_calibrated"], 6)
    if old:  # pre-fix units, reproduced for the comparison: monkeypatch the two reductions
        import denoisebench.papers.p004_semantic_denoise.joint as sj
        sj.reconstruction_loss = lambda o, t: F.mse_loss(o.float(), t.float())
        sj.perceptual_loss = lambda f, g: F.mse_loss(f.float(), g.float())
    m = build_method("liu_joint", {"train_noise": {"name": "awgn", "sigma": 25}, "init_checkpoint": str(SEP), **cfg})
    logs = []
    t = time.process_time()
    m.train(train_images(), OUT / name, train_config=QUICK_JOINT,
            callbacks=[lambda step, l: l and logs.append({k: float(v) for k, v in l.items()})])
    print(name, cfg, "cpu", time.process_time() - t)
    print(logs[0], logs[-1], sep="\n")


def evaluate(name):
    m = build_method("liu_separate" if name == "sep" else "liu_joint")
    m.load(SEP if name == "sep" else OUT / name / "model.pt")
    noise = build_noise({"name": "awgn", "sigma": 25})
    res = {}
    t = time.process_time()
    for ds in ("kodak24", "cbsd68"):
        scores = []
        for s in list_samples(ds, ROOT, limit=4):
            clean = s.clean()
            noisy = noise.apply(clean, np.random.default_rng(derive_seed(ds, s.id, "awgn_sigma25", 0)))
            out = m.denoise(noisy.astype(np.float32), DenoiseContext(sigma=25))
            scores.append(psnr(clean, out))
        res[ds] = {"mean": float(np.mean(scores)), "per_image": [round(x, 3) for x in scores]}
    print(name, json.dumps(res), "cpu", time.process_time() - t)
    (OUT / f"psnr_{name}.json").write_text(json.dumps(res))


def calibrate(model_pt, sigma="25"):
    from denoisebench.papers.p004_semantic_denoise.joint import measure_lambda_p

    res = measure_lambda_p(model_pt, train_images(), sigma=float(sigma))
    print(json.dumps({k: round(v, 6) for k, v in res.items()}, indent=1))


if __name__ == "__main__":
    {"norms": lambda: norms(), "train": lambda: train(sys.argv[2]), "eval": lambda: evaluate(sys.argv[2]),
     "calibrate": lambda: calibrate(*sys.argv[2:4])}[sys.argv[1]]()
