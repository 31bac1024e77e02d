"""Masking on Ray Data (`tools/make_dataset.py --engine ray`): the samples stream to one SampleMasker per worker
(an actor), and the JPEG bytes stream back to the caller, which writes them as the pool path does, so that both
write the same files. Ray Data restarts a worker that dies and retries its batch there."""
import json

from basics import connect_ray

from .readers import Sample

# Samples per call of a worker: big enough that Ray's per-batch cost (milliseconds) is small beside the masking
# (about 1.5 ms a face), small enough that a retried batch redoes little.
BATCH = 256
FIELDS = ("split", "class_name", "name", "pixels", "path")


class _MaskBatch:
    def __init__(self, masker):
        import cv2

        cv2.setNumThreads(1)      # one worker a core: OpenCV's own threads only contend
        self.masker = masker

    def __call__(self, batch) -> dict:
        results = [self.masker(Sample(**row)) for row in batch.to_pylist()]
        # Styles as JSON text: Arrow would make one struct type of dicts whose values differ in type.
        return {"key": [r.key for r in results], "relpath": [r.relpath for r in results],
                "style": [None if r.style is None else json.dumps(r.style) for r in results],
                "reason": [r.reason for r in results], "image": [r.image for r in results]}


def mask_on_ray(masker, samples: list, workers: int, address=None):
    """What `masker` (masker.dataset.SampleMasker) gives for each of `samples`, from `workers` Ray workers in the
    order they finish: (key, relpath, style, reason, JPEG bytes) a sample."""
    if not samples:
        return
    ray = connect_ray(address, workers)
    rows = [{f: getattr(s, f) for f in FIELDS} for s in samples]
    dataset = ray.data.from_items(rows).map_batches(
        _MaskBatch, fn_constructor_args=(masker,), batch_size=BATCH, batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers), num_cpus=1)
    for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        for row in batch.to_pylist():
            style = None if row["style"] is None else json.loads(row["style"])
            yield row["key"], row["relpath"], style, row["reason"], row["image"]
