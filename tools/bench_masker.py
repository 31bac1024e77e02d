"""Masker throughput (1 and 2 workers) and coverage on FER2013's Training images of the four classes.

    python tools/bench_masker.py --fer2013 ../shared/fer2013
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter  # noqa: E402
from masker import DEFAULT_CLASSES  # noqa: E402
from masker.benchmark import machine_description, run_benchmark  # noqa: E402
from masker.readers import parse_classes  # noqa: E402


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--fer2013", default=str(root.parent / "shared" / "fer2013"), help="FER2013 image-folder root")
    p.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    p.add_argument("--classes", default=",".join(DEFAULT_CLASSES))
    p.add_argument("--limit", type=int, help="at most N images per class (quick runs)")
    args = p.parse_args(argv)
    try:
        workers = [int(w) for w in args.workers.split(",")]
        machine = machine_description()
        rows = run_benchmark(args.fer2013, workers, parse_classes(args.classes), args.limit)
    except ValueError as error:
        print(f"bench_masker: error: {error}", file=sys.stderr)
        return 2
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, load average at start "
          f"{', '.join(f'{x:.2f}' for x in machine['load_average'] or [])}; python {machine['python']}, "
          f"dlib {machine['dlib']}, opencv {machine['opencv']} (CPU shared with other jobs: numbers vary)")
    print("| workers | images | written | coverage | seconds | images/s | CPU ms/image |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['images']} | {r['written']} | {r['coverage']:.4%} | {r['seconds']:.1f} "
              f"| {r['images_per_second']:.0f} | {r['cpu_ms_per_image']:.2f} |")
    skipped = rows[-1]["skipped"] if rows else []
    if skipped:
        print(f"skipped ({len(skipped)}), first ones: " + json.dumps(skipped[:5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
