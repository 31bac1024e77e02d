"""The FastAPI application: POST /predict, GET /healthz, GET /metrics."""
import contextlib
import dataclasses
import json
import logging
import os
import signal
import threading
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Union

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from deploy.server.batching import MicroBatcher
from deploy.faces import DetectorMissing
from deploy.images import BadImage, decode_base64, decode_pixels, open_image, photo_warning
from deploy.server.metrics import Metrics
from deploy.server.middleware import BodyLimit, RecordMetrics
from deploy.server.schemas import (ErrorResponse, Face, FacesResponse, FastDeployRequest, Health, LabelScore,
                                   PredictResponse)

SETTINGS_ENV = "FER_SERVER_SETTINGS"
PATHS = ("/", "/predict", "/healthz", "/metrics", "/openapi.json", "/docs")
STATIC = Path(__file__).resolve().parent / "static"
# Images of up to this many pixels (a face crop) are decoded on the event loop's thread: a 48 px JPEG takes 0.13 ms
# there, less than the hop to a worker thread under load; at c=4 the server answered 480-495 requests/s against
# 398-454 (side by side, 2026-12-07 evening). Larger ones (128 px already takes 0.21 ms) go to a thread, so that
# the loop keeps reading other requests meanwhile.
INLINE_DECODE_PIXELS = 128 * 128
# uvicorn's own error log, so that a failed request's traceback lands where the server's other errors do.
log = logging.getLogger("uvicorn.error")


@dataclasses.dataclass
class Settings:
    model_dir: str
    backend: str = "paddle"
    device: str = "cpu"
    max_batch: int = 8
    max_wait_ms: float = 2.0
    max_upload_mb: float = 8.0
    max_pixels: int = 40_000_000
    max_aspect: float = 10.0
    cpu_threads: int = None     # the backends' and the face finder's threads; None: every core
    precision: str = None       # the paddle backend's on CPU (deploy.backends.PRECISIONS); None: its default


def load_predictor(settings: Settings):
    # Imported here so that the server imports in environments without paddle (the fastdeploy backend's).
    from deploy.backends import precision_option
    from deploy.predictor import Predictor
    return Predictor(settings.model_dir, backend=settings.backend, device=settings.device,
                     batch_size=settings.max_batch, cpu_threads=settings.cpu_threads,
                     **precision_option(settings.precision))


def reclaim_signals():
    """Put the server's own SIGINT and SIGTERM handlers back in force. Paddle's runtime, started by the model
    load, installs C handlers that dump a FatalError and exit 143; uvicorn's (still the Python-level ones)
    finish the requests in flight first."""
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.getsignal(number))


def _topk(prediction) -> list:
    return [LabelScore(label=label, score=float(score)) for label, score in prediction.topk]


def predict_response(prediction, labels, warning=None) -> PredictResponse:
    fastdeploy_result = {"label_ids": [labels.index(label) for label, _ in prediction.topk],
                         "scores": [float(score) for _, score in prediction.topk]}
    return PredictResponse(label=prediction.label, score=float(prediction.score), topk=_topk(prediction),
                           result=json.dumps(fastdeploy_result), warning=warning, **_mask_status(prediction))


def _mask_status(prediction) -> dict:
    if prediction.masked is None:
        return {}
    return {"masked": prediction.masked, "mask_score": float(prediction.mask_score),
            "expression_model": prediction.expression_model}


def faces_response(found) -> FacesResponse:
    """The answer for a photo: found is Predictor.predict_faces's FoundFaces."""
    faces = [Face(box=[int(v) for v in face.box], label=face.prediction.label,
                  score=float(face.prediction.score), topk=_topk(face.prediction), **_mask_status(face.prediction))
             for face in found]
    return FacesResponse(count=len(faces), faces=faces, too_small=[[int(v) for v in box] for box in found.too_small],
                         message=found.explanation())


async def read_image_bytes(request: Request) -> bytes:
    """The uploaded image's bytes, from a multipart form, FastDeploy's JSON, or a raw image body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadImage(422, "the multipart form has no file field named 'file'; "
                                "send the image as file=@photo.jpg")
        return await upload.read()
    if content_type == "application/json":
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as err:
            raise BadImage(400, f"the body is not valid JSON ({err}); send {{\"data\": {{\"image\": \"<base64>\"}}}}")
        try:
            fastdeploy_request = FastDeployRequest.model_validate(body)
        except ValidationError as err:
            raise RequestValidationError(err.errors(include_url=False, include_context=False))
        return decode_base64(fastdeploy_request.data.image)
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        return await request.body()
    raise BadImage(415, f"unsupported content type {content_type or '(none)'!r}; send multipart/form-data with a "
                        "'file' field, FastDeploy's JSON {\"data\": {\"image\": \"<base64>\"}}, or a raw image body")


def _request_body_schema() -> dict:
    return {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "The image file (JPEG, PNG, ...)."}}}},
        "application/json": {"schema": {"$ref": "#/components/schemas/FastDeployRequest"}},
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    }}


def _error(description: str) -> dict:
    return {"model": ErrorResponse, "description": description}


def create_app(settings: Settings, predictor=None) -> FastAPI:
    """The service for one model; `predictor` is loaded from `settings` at startup when not given."""
    metrics = Metrics(PATHS)
    state = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        model = predictor if predictor is not None else await run_in_threadpool(load_predictor, settings)
        reclaim_signals()
        model.time_stages(metrics.observe_stage)
        batcher = MicroBatcher(model, settings.max_batch, settings.max_wait_ms, on_batch=metrics.observe_batch,
                               on_wait=lambda seconds: metrics.observe_stage("queue", seconds))
        batcher.start()
        state.update(predictor=model, batcher=batcher, labels=list(model.labels))
        try:
            yield
        finally:
            await batcher.stop()

    # FastAPI's own /docs and /redoc load their scripts from a CDN: blank offline. /docs is served from the
    # swagger-ui-py package's Swagger UI 5 instead, where it is installed; /openapi.json always.
    app = FastAPI(title="Masked-face expression recognition", version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Classifies the facial expression of a (masked) face photo. Send a face crop to "
                              "`/predict`, or any photo to `/predict?faces=1` to find and classify every face.")

    @app.exception_handler(BadImage)
    async def bad_image(request: Request, err: BadImage):
        return JSONResponse(status_code=err.status, content={"detail": err.message})

    @app.exception_handler(Exception)
    async def internal_error(request: Request, err: Exception):
        # A bug: the traceback goes to the log under an id that the client is given, and nothing of the
        # exception's text (paths, internals) goes to the client.
        request_id = uuid.uuid4().hex[:12]
        log.error("request %s (%s %s) failed", request_id, request.method, request.url.path, exc_info=err)
        return JSONResponse(status_code=500, content={
            "detail": f"internal error; the server's log has it under request id {request_id}",
            "request_id": request_id})

    @app.post("/predict", response_model=Union[PredictResponse, FacesResponse],
              summary="Classify the expression of a face, or of every face in a photo",
              openapi_extra={"requestBody": _request_body_schema()},
              responses={400: _error("Corrupt or truncated image, bad base64 or JSON."),
                         413: _error("Upload over --max-upload-mb, or image over --max-pixels."),
                         415: _error("Not an image, or an unsupported content type."),
                         422: _error("A JSON body or form without the expected fields, or (without faces=1) "
                                     "an image far from square."),
                         501: _error("?faces=1 on a server whose environment lacks the face finder's runtime.")})
    async def predict(request: Request,
                      faces: bool = Query(False, description="Detect every face in the photo and classify each.")):
        started = time.perf_counter()
        with contextlib.nullcontext() if faces else state["batcher"].on_its_way():
            data = await read_image_bytes(request)
            read = time.perf_counter()
            metrics.observe_stage("read", read - started)
            opened = open_image(data, settings.max_pixels, None if faces else settings.max_aspect)
            if opened.width * opened.height <= INLINE_DECODE_PIXELS:
                image = decode_pixels(opened)
            else:
                image = await run_in_threadpool(decode_pixels, opened)
            metrics.observe_stage("decode", time.perf_counter() - read)
        if faces:
            try:
                found = await state["batcher"].run_exclusive(state["predictor"].predict_faces, image)
            except (ImportError, DetectorMissing) as err:
                raise HTTPException(501, f"face detection is not available in this server's environment ({err}); "
                                         "run `make setup`, which installs tflite-runtime and the face models")
            return json_response(faces_response, found)
        prediction = await state["batcher"].classify(image)
        return json_response(predict_response, prediction, state["labels"],
                             photo_warning(image, "faces=1") or None)

    def json_response(build, *args) -> Response:
        """The answer model built and encoded here, timed ("respond"); FastAPI would validate it again."""
        started = time.perf_counter()
        body = build(*args).model_dump_json()
        metrics.observe_stage("respond", time.perf_counter() - started)
        return Response(body, media_type="application/json")

    @app.get("/healthz", response_model=Health, summary="Liveness and the model being served")
    async def healthz():
        return Health(status="ok", backend=settings.backend, precision=state["predictor"].backend.precision,
                      model_dir=str(settings.model_dir), model=state["predictor"].describe(), labels=state["labels"])

    @app.get("/metrics", response_class=PlainTextResponse, summary="Request counts and latency (Prometheus)")
    async def prometheus_metrics():
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    def openapi():
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            request_schema = FastDeployRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(request_schema.pop("$defs", {}))
            components["FastDeployRequest"] = request_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    add_offline_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="page")

    @app.get("/", include_in_schema=False)
    async def page():
        """The demo page: plain HTML, CSS and JavaScript from deploy/server/static, nothing from elsewhere."""
        return FileResponse(STATIC / "index.html")
    app.add_middleware(BodyLimit, max_bytes=int(settings.max_upload_mb * 1024 * 1024))
    app.add_middleware(RecordMetrics, metrics=metrics)  # added last = outermost: it also sees the 413s
    return app


def add_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the installed swagger-ui-py's files, never a CDN; without it, no /docs. Its
    Swagger UI 5 renders the OpenAPI 3.1 that FastAPI publishes (swagger-ui-bundle's 4.15 refused it)."""
    try:
        import swagger_ui
    except ImportError:
        return
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount("/docs/static", StaticFiles(directory=Path(swagger_ui.__file__).parent / "static"), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API",
                                   swagger_js_url="/docs/static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/static/swagger-ui.css",
                                   swagger_favicon_url="/docs/static/favicon-32x32.png")


def create_app_from_env() -> FastAPI:
    """uvicorn's factory for `--workers N`: each worker process builds its own app and predictor."""
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise RuntimeError(f"{SETTINGS_ENV} is not set; start the server with tools/serve.py")
    return create_app(Settings(**json.loads(raw)))
