"""The whole pipeline on a small sample: mask, train, evaluate, export, predict.

    python tools/demo.py                          # generated faces (there is no data set we may ship)
    python tools/demo.py --fer2013 PATH           # the same on real FER2013 (fer2013.csv or the image folders)

Everything is written under --out (output/demo/, or output/demo_fer2013/ with --fer2013, so that both runs live
side by side in one checkout); a second run with the same arguments resumes the masking and retrains from scratch.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from basics import HelpFormatter  # noqa: E402
from masker import DEFAULT_CLASSES  # noqa: E402
from masker.dataset import RunConfig, build_dataset  # noqa: E402


# FER2013's faces per split and class the real-data demo takes: minutes, not half an hour, for the whole chain.
REAL_DATA_LIMIT = 1000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--fer2013", help="real FER2013 instead of generated faces")
    p.add_argument("--out", help="where everything is written (default: output/demo, output/demo_fer2013 with "
                                 "--fer2013)")
    p.add_argument("--config", default="configs/masked_fer/demo.yaml", help="the training config")
    p.add_argument("--epochs", type=int, help="override Global.epochs")
    p.add_argument("--per-class", type=int, default=240, help="generated training faces per class")
    p.add_argument("--limit", type=int, default=REAL_DATA_LIMIT,
                   help="with --fer2013: at most N faces per split and class (0: every face, which trains about "
                        "four times as long)")
    p.add_argument("--workers", type=int, default=2, help="masking processes")
    args = p.parse_args(argv)
    if args.limit < 0:
        p.error(f"--limit must be 0 (every face) or more, got {args.limit}")
    return args


def output_folder(args) -> Path:
    return Path(args.out or ("output/demo_fer2013" if args.fer2013 else "output/demo"))


def step(title):
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def main(argv=None) -> int:
    args = parse_args(argv)
    out = output_folder(args)
    source = args.fer2013
    if source is None:
        from masker.synthetic import write_synthetic_fer2013

        started = step(f"generating {args.per_class} training faces per class")
        source = out / "faces"
        counts = write_synthetic_fer2013(source, args.per_class, seed=0, classes=DEFAULT_CLASSES)
        print(f"{counts} -> {source} ({time.perf_counter() - started:.1f} s)")

    limit = args.limit if args.fer2013 and args.limit else None
    started = step("masking faces" + (f" (at most {limit} per split and class: --limit 0 takes them all)" if limit
                                      else ""))
    data = out / "dataset"
    config = RunConfig(fer2013=str(Path(source).resolve()), classes=DEFAULT_CLASSES, limit=limit)
    manifest = build_dataset(config, data, workers=args.workers)
    print(f"coverage {manifest['coverage']:.4f}, written {manifest['written']} -> {data} "
          f"({time.perf_counter() - started:.1f} s); samples: {data / 'contact_sheet.png'}")

    from engine.config import load_config
    from engine.evaluate import evaluate
    from engine.export import export
    from engine.train import train

    overrides = [f"Global.output_dir={out / 'output'}", f"Global.save_inference_dir={out / 'inference'}",
                 "Global.use_visualdl=False", f"Global.dataset={data}"]
    if args.epochs:
        overrides.append(f"Global.epochs={args.epochs}")
    started = step(f"training {args.config}")
    run_dir = train(load_config(args.config, overrides))
    print(f"trained in {time.perf_counter() - started:.0f} s -> {run_dir}")

    # The best epoch was chosen on the validation split carved from the training faces; the test split reports.
    step("evaluating the best checkpoint on the test faces")
    trained = overrides + [f"Global.pretrained_model={run_dir / 'best_model'}"]
    report = evaluate(load_config(args.config, [*trained, "Global.eval_split=eval"]))
    print(f"accuracy {report['accuracy']:.3f}, macro F1 {report['macro_f1']:.3f}; "
          f"{run_dir / 'report.json'}, {run_dir / 'confusion_matrix.png'}, {run_dir / 'predictions.csv'}")

    step("exporting the inference model")
    model_dir = export(load_config(args.config, trained))
    print(f"-> {model_dir}")

    step("predicting with the exported model (Paddle Inference)")
    import cv2

    from deploy.predictor import Predictor

    predictor = Predictor(model_dir)
    lines = (data / "eval_list.txt").read_text().splitlines()
    files = [data / line.split()[0] for line in lines[::max(1, len(lines) // 8)]]
    for path, prediction in zip(files, predictor.predict([cv2.imread(str(f)) for f in files])):
        print(f"{path.relative_to(data)!s:48} {prediction.label:9} {prediction.score:.3f}")
    from masker.photo import write_sample_photo_and_clip

    step("a photo and a clip to try the shipped models on")
    for path in write_sample_photo_and_clip(out):
        print(path)
    print(f"\nnext: .venv/bin/python tools/predict.py --model-dir {model_dir} IMAGE_OR_DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
