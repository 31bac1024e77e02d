"""Micro-batching: concurrent requests are grouped into one predictor call on a single inference thread.

The predictor is never called from two threads at once (Paddle Inference and FastDeploy predictors are not
thread-safe), and under load one batch of N images costs far less than N single calls. A batch waits for more
requests only while others are on their way (read or decoded, not yet queued): a lone request never waits.
"""
import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor


class MicroBatcher:
    def __init__(self, predictor, max_batch: int = 8, max_wait_ms: float = 2.0, on_batch=None, on_wait=None):
        """on_batch(size) hears each batch run; on_wait(seconds) each request's wait for its batch to start."""
        self.predictor = predictor
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.on_batch, self.on_wait = on_batch, on_wait
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._queue = None
        self._task = None
        self.coming = 0     # requests to classify that are being read or decoded (on_its_way)

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._executor.shutdown(wait=True)

    @contextlib.contextmanager
    def on_its_way(self):
        """Around a request's reading and decoding, before classify: a batch waits for it (the event loop's
        thread only)."""
        self.coming += 1
        try:
            yield
        finally:
            self.coming -= 1

    async def classify(self, image):
        """One image's Prediction, computed in a batch with whatever other requests arrive meanwhile."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((image, future, time.perf_counter()))
        return await future

    async def run_exclusive(self, function, *args):
        """Run other predictor work (face detection) on the inference thread, between batches."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            # A short pause lets requests that arrive together share a batch, if any are on their way; under load
            # the queue fills up while the previous batch runs, so batches grow without any wait at all.
            if self.max_wait > 0 and self.coming and self._queue.qsize() < self.max_batch - 1:
                await asyncio.sleep(self.max_wait)
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [(image, future, queued) for image, future, queued in batch if not future.cancelled()]
            if not batch:
                continue
            if self.on_wait is not None:
                started = time.perf_counter()
                for _, _, queued in batch:
                    self.on_wait(started - queued)
            images = [image for image, _, _ in batch]
            try:
                predictions = await loop.run_in_executor(self._executor, self.predictor.predict, images)
            except Exception as err:  # the requests fail, the batching loop must live on
                for _, future, _ in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            if self.on_batch is not None:
                self.on_batch(len(batch))
            for (_, future, _), prediction in zip(batch, predictions):
                if not future.done():
                    future.set_result(prediction)
