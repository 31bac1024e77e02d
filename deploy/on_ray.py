"""Prediction on Ray Data (`tools/predict.py --engine ray`): photos, folders, lists of paths and videos, over the
workers of a local Ray cluster or of the one at an address.

The inputs are cut into shards in a stable order: SHARD_SIZE photos, or one video. Each Ray worker holds one
Predictor (face finder, face status and both expression models, loaded once) and answers a shard with the same
functions as the single-process path (deploy/photos.py, deploy/video.py), then writes the shard's rows as one
Parquet file, temp then rename. A shard's file exists only when all of it is done, so a worker that dies is
retried by Ray on a new one without a row written twice, and a job stopped and started again skips the shards it
finished. job.json records what the job is, so that a folder is not resumed by another job.
"""
import csv
import hashlib
import json
import signal
from pathlib import Path

from tqdm import tqdm

from basics import UserError, atomic_write_text, connect_ray, is_image_file, written_atomically

SHARD_SIZE = 64
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
# One row a face (or an error row for an input that gave none): the columns of the Parquet shards.
COLUMNS = ("file", "frame", "time", "face", "track", "left", "top", "right", "bottom", "masked", "mask_score",
           "expression_model", "label", "score", "scores", "topk_labels", "topk_scores", "error")


class JobMismatch(UserError):
    """An output folder that holds the shards of another job."""


def read_path_list(path: Path) -> list:
    """The paths listed in a .parquet or .csv file (a column named path or file) or a .txt file (one a line)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        table = pq.read_table(path)
        column = next((c for c in ("path", "file") if c in table.column_names), None)
        if column is None:
            raise UserError(f"{path}: no column named 'path' or 'file' (it has {', '.join(table.column_names)})")
        return [str(p) for p in table.column(column).to_pylist() if p]
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            column = next((c for c in ("path", "file") if c in (reader.fieldnames or [])), None)
            if column is None:
                raise UserError(f"{path}: no column named 'path' or 'file' in the header {reader.fieldnames}")
            return [row[column] for row in reader if row[column]]
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def collect_inputs(paths) -> tuple:
    """(photos, videos, errors): folders walked, path lists (.parquet, .csv, .txt) read, in a stable order."""
    photos, videos, errors = [], [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file())
            photos += [str(p) for p in found if is_image_file(p)]
            videos += [str(p) for p in found if p.suffix.lower() in VIDEO_SUFFIXES]
            if not any(is_image_file(p) or p.suffix.lower() in VIDEO_SUFFIXES for p in found):
                errors.append({"file": str(path), "error": "no images or videos found in this folder"})
        elif path.is_file() and path.suffix.lower() in (".parquet", ".csv", ".txt"):
            listed = read_path_list(path)
            videos += [p for p in listed if Path(p).suffix.lower() in VIDEO_SUFFIXES]
            photos += [p for p in listed if Path(p).suffix.lower() not in VIDEO_SUFFIXES]
        elif path.is_file():
            (videos if path.suffix.lower() in VIDEO_SUFFIXES else photos).append(str(path))
        else:
            errors.append({"file": str(path), "error": "no such file or directory"})
    return photos, videos, errors


def shards_of(photos, videos, shard_size=SHARD_SIZE) -> list:
    """[(shard id, kind, files)]: photos shard_size at a time, then each video alone."""
    shards = [(f"photos-{i // shard_size:06d}", "photos", photos[i:i + shard_size])
              for i in range(0, len(photos), shard_size)]
    return shards + [(f"video-{i:06d}", "video", [video]) for i, video in enumerate(videos)]


def table_rows(rows, errors) -> list:
    """Report rows (deploy/report.py) and error rows as Parquet records of COLUMNS."""
    records = []
    for r in rows:
        box = r["box"] or [None] * 4
        records.append({
            "file": r["file"], "frame": r.get("frame"), "time": r.get("time"), "face": r["face"],
            "track": r.get("track"), **dict(zip(("left", "top", "right", "bottom"), box)),
            "masked": r.get("masked"), "mask_score": r.get("mask_score"),
            "expression_model": r.get("expression_model"), "label": r["label"], "score": r["score"],
            "scores": r["scores"], "topk_labels": [label for label, _ in r["topk"]],
            "topk_scores": [score for _, score in r["topk"]], "error": None})
    records += [{**{c: None for c in COLUMNS}, "file": e["file"], "error": e["error"]} for e in errors]
    return records


def report_row(record) -> dict:
    """A Parquet record of a face back as a report row, for the CSV and JSON writers of deploy/report.py."""
    r = record
    row = {"file": r["file"], "face": r["face"],
           "box": None if r["left"] is None else [r[k] for k in ("left", "top", "right", "bottom")],
           "scores": r["scores"], "label": r["label"], "score": r["score"],
           "topk": [list(pair) for pair in zip(r["topk_labels"], r["topk_scores"])]}
    row.update({k: r[k] for k in ("frame", "time", "track") if r[k] is not None})
    if r["masked"] is not None:
        row.update(masked=r["masked"], mask_score=r["mask_score"], expression_model=r["expression_model"])
    return row


class ShardPredictor:
    """One Ray worker: a Predictor loaded once, answering shards and writing each as one Parquet file."""

    def __init__(self, out_dir, model_dir, predictor_options, faces, face_options, max_pixels, video_options):
        from deploy.predictor import Predictor

        # Ctrl-C in a terminal reaches every process of its group: the driver stops the job, and a worker must not
        # write a shard that an interrupt cut short as if it were whole.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.out_dir = Path(out_dir)
        self.predictor = Predictor(model_dir, **predictor_options)
        self.faces, self.face_options, self.max_pixels = faces, face_options, max_pixels
        self.video_options = video_options

    def __call__(self, batch: dict) -> dict:
        done = {"shard": [], "inputs": [], "rows": [], "errors": []}
        for shard, kind, files in zip(batch["shard"], batch["kind"], batch["files"]):
            rows, errors = self.answer(kind, list(files))
            write_shard(self.out_dir / "shards" / f"{shard}.parquet", table_rows(rows, errors))
            for key, value in (("shard", shard), ("inputs", len(files)), ("rows", len(rows)),
                               ("errors", len(errors))):
                done[key].append(value)
        return done

    def answer(self, kind, files):
        from deploy.photos import predict_images
        from deploy.video import predict_video

        if kind == "photos":
            return predict_images(self.predictor, [Path(f) for f in files], faces=self.faces, progress=False,
                                  max_pixels=self.max_pixels, **self.face_options)
        try:
            rows, _ = predict_video(self.predictor, files[0], progress=False, report=lambda line: None,
                                    **self.video_options, **self.face_options)
        except FileNotFoundError as error:
            return [], [{"file": files[0], "error": str(error)}]
        return rows, []


def write_shard(path: Path, records: list):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(records, schema=shard_schema())
    with written_atomically(path) as tmp:
        pq.write_table(table, str(tmp))


def shard_schema():
    import pyarrow as pa

    number, text, count = pa.float64(), pa.string(), pa.int64()
    kinds = {"file": text, "frame": count, "time": number, "face": count, "track": count, "left": count,
             "top": count, "right": count, "bottom": count, "masked": pa.bool_(), "mask_score": number,
             "expression_model": text, "label": text, "score": number, "scores": pa.list_(number),
             "topk_labels": pa.list_(text), "topk_scores": pa.list_(number), "error": text}
    return pa.schema([(c, kinds[c]) for c in COLUMNS])


def job_identity(shards, model_dir, options) -> dict:
    digest = hashlib.sha256(json.dumps([list(s) for s in shards]).encode()).hexdigest()[:16]
    return {"inputs": sum(len(files) for _, _, files in shards), "shards": len(shards), "inputs_sha256": digest,
            "model_dir": str(Path(model_dir).resolve()), **options}


def predict_on_ray(paths, out_dir, model_dir, predictor_options=None, faces=False, face_options=None,
                   max_pixels=None, video_options=None, workers=2, address=None, progress=True,
                   shard_size=SHARD_SIZE) -> dict:
    """Answer every input on Ray, writing out_dir/shards/*.parquet; returns a summary (inputs, shards, the shards
    an earlier run of the job had done, and their folder). Input paths must be readable on every node (a shared
    file system)."""
    photos, videos, errors = collect_inputs(paths)
    shards = shards_of(photos, videos, shard_size)
    out_dir = Path(out_dir)
    options = {"faces": faces, **(face_options or {}), **(video_options or {})}
    identity = job_identity(shards, model_dir, options)
    marker = out_dir / "job.json"
    if marker.exists() and json.loads(marker.read_text()) != identity:
        raise JobMismatch(f"{out_dir} holds the shards of another job (other inputs, model or options): give "
                          "another output folder, or remove it to start again")
    (out_dir / "shards").mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / "shards").glob(".*.tmp*"):     # a write that a stop cut short; its shard is redone
        stale.unlink()
    atomic_write_text(marker, json.dumps(identity, indent=1))
    finished = {p.stem for p in (out_dir / "shards").glob("*.parquet")}
    pending = [s for s in shards if s[0] not in finished]
    if errors:
        write_shard(out_dir / "shards" / "inputs-missing.parquet", table_rows([], errors))
    summary = {"inputs": identity["inputs"], "shards": len(shards), "resumed_shards": len(shards) - len(pending),
               "shards_dir": str(out_dir / "shards")}
    if pending:
        _run(pending, out_dir, model_dir, predictor_options or {}, faces, face_options or {}, max_pixels,
             video_options or {}, workers, address, progress, total=identity["inputs"],
             done=identity["inputs"] - sum(len(files) for _, _, files in pending))
    return summary


def _run(pending, out_dir, model_dir, predictor_options, faces, face_options, max_pixels, video_options, workers,
         address, progress, total, done):
    ray = connect_ray(address, workers)
    # SIGTERM ends the job as Ctrl-C does: Ray's local cluster is shut down, the shards written stay.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        items = [{"shard": shard, "kind": kind, "files": files} for shard, kind, files in pending]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            ShardPredictor, batch_size=1, num_cpus=1,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
            fn_constructor_args=(str(out_dir), str(model_dir), predictor_options, faces, face_options, max_pixels,
                                 video_options))
        bar = tqdm(total=total, initial=done, unit="input", disable=None if progress else True, smoothing=0.1)
        rows = 0
        for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            rows += sum(batch.column("rows").to_pylist())
            bar.update(sum(batch.column("inputs").to_pylist()))
            bar.set_postfix(rows=rows)
        bar.close()
    finally:
        signal.signal(signal.SIGTERM, previous)


def read_shards(out_dir):
    """Every record of a job's shards, shard by shard in input order, one shard in memory at a time."""
    import pyarrow.parquet as pq

    for path in sorted((Path(out_dir) / "shards").glob("*.parquet")):
        yield from pq.read_table(path).to_pylist()
