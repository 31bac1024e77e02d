"""Masker throughput (1 and 2 workers) and coverage on FER2013's Training images of the four classes, beside
its peer face-mask 0.3.0 (--peer), and where the time per face goes (--profile).

    python tools/bench_masker.py --fer2013 ../shared/fer2013 --limit 500 --peer --profile
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basics import HelpFormatter  # noqa: E402
from masker import DEFAULT_CLASSES  # noqa: E402
from studies.masker_bench import (machine_description, masking_table, profile_table, run_benchmark,  # noqa: E402
                              stage_profile)
from masker.readers import parse_classes  # noqa: E402


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--fer2013", default=str(root.parent / "shared" / "fer2013"), help="FER2013 image-folder root")
    p.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    p.add_argument("--classes", default=",".join(DEFAULT_CLASSES))
    p.add_argument("--limit", type=int, help="at most N images per class (quick runs)")
    p.add_argument("--peer", action="store_true", help="also time face-mask 0.3.0 on the same faces "
                                                       "(its wheel is fetched from PyPI once)")
    p.add_argument("--profile", action="store_true", help="also time each step of masking a face")
    p.add_argument("--repeats", type=int, default=3, help="runs of each, alternating; the fastest is shown")
    args = p.parse_args(argv)
    try:
        workers = [int(w) for w in args.workers.split(",")]
        classes = parse_classes(args.classes)
        machine = machine_description()
        rows = run_benchmark(args.fer2013, workers, classes, args.limit, peer=args.peer, repeats=args.repeats)
        profile = stage_profile(args.fer2013, classes, args.limit) if args.profile else None
    except (ValueError, RuntimeError) as error:       # RuntimeError: the peer could not be fetched or failed
        print(f"bench_masker: error: {error}", file=sys.stderr)
        return 2
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, load average at start "
          f"{', '.join(f'{x:.2f}' for x in machine['load_average'] or [])}; python {machine['python']}, "
          f"dlib {machine['dlib']}, opencv {machine['opencv']}")
    print("\n".join(masking_table(rows)))
    if profile:
        print("\n" + "\n".join(profile_table(profile)))
    skipped = [s for r in rows for s in r["skipped"]]
    if skipped:
        print(f"skipped ({len(skipped)}), first ones: " + json.dumps(skipped[:5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
