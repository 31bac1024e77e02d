"""The HTTP service, started for real (uvicorn subprocess on loopback) with the exported test model."""
import asyncio
import io
import base64
import json
import re
import struct
import subprocess
import zlib

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image
from matplotlib import cbook

from deploy.server.launch import running_server

MAX_UPLOAD_MB = 1
MAX_PIXELS = 4_000_000


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


@pytest.fixture(scope="module")
def server(inference_dir):
    with running_server(inference_dir, extra_args=["--max-upload-mb", MAX_UPLOAD_MB,
                                                   "--max-pixels", MAX_PIXELS]) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def face_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    return jpeg(rng.integers(0, 256, (48, 48), dtype=np.uint8))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real portrait (Grace Hopper, shipped with matplotlib)."""
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with one tiny (and wrong) data chunk: a bomb's shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def check_prediction(body: dict, labels: list) -> None:
    assert body["label"] in labels
    assert body["label"] == body["topk"][0]["label"] and body["score"] == body["topk"][0]["score"]
    assert sum(item["score"] for item in body["topk"]) == pytest.approx(1.0, abs=1e-4)
    fastdeploy = json.loads(body["result"])
    assert [labels[i] for i in fastdeploy["label_ids"]] == [item["label"] for item in body["topk"]]
    assert fastdeploy["scores"] == pytest.approx([item["score"] for item in body["topk"]])


def test_healthz(client):
    from paddle.base import core

    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["backend"] == "paddle"
    assert body["precision"] == ("bf16" if core.supports_bfloat16_fast_performance() else "fp32")
    assert body["labels"] == ["angry", "fear", "happy", "surprise"]


def test_predict_upload(client, face_jpeg):
    response = client.post("/predict", files={"file": ("face.jpg", face_jpeg, "image/jpeg")})
    assert response.status_code == 200, response.text
    check_prediction(response.json(), client.get("/healthz").json()["labels"])


def test_upload_and_fastdeploy_json_agree(client, face_jpeg):
    upload = client.post("/predict", files={"file": ("face.jpg", face_jpeg, "image/jpeg")}).json()
    response = client.post("/predict", json={"data": {"image": base64.b64encode(face_jpeg).decode()},
                                             "parameters": {}})
    assert response.status_code == 200, response.text
    assert response.json() == upload
    raw = client.post("/predict", content=face_jpeg, headers={"content-type": "image/jpeg"})
    assert raw.json() == upload


def test_gray_png_and_rgba_are_accepted(client, face_jpeg):
    gray = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    rgba = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)
    for image in (gray, rgba):
        ok, data = cv2.imencode(".png", image)
        response = client.post("/predict", files={"file": ("face.png", data.tobytes(), "image/png")})
        assert response.status_code == 200, response.text


def test_faces_on_a_photo_with_two_people(client, photo):
    two = np.concatenate([photo, photo[:, ::-1]], axis=1)
    response = client.post("/predict", params={"faces": 1}, files={"file": ("two.jpg", jpeg(two), "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 2 == len(body["faces"])
    width = photo.shape[1]
    left, right = sorted(body["faces"], key=lambda face: face["box"][0])
    assert left["box"][2] <= width <= right["box"][0], "one face in each half of the photo"
    for face in body["faces"]:
        x1, y1, x2, y2 = face["box"]
        assert 0 <= x1 < x2 <= two.shape[1] and 0 <= y1 < y2 <= two.shape[0]
        assert face["label"] == face["topk"][0]["label"]


def test_faces_on_a_photo_without_faces(client):
    blank = np.full((200, 300, 3), 127, np.uint8)
    response = client.post("/predict?faces=1", files={"file": ("blank.jpg", jpeg(blank), "image/jpeg")})
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 0, "faces": [], "too_small": [], "message": None}


def test_a_photo_whose_faces_are_all_too_small_says_so(client, photo):
    """A thumbnail used to get the answer of a photo without faces: count 0, nothing else."""
    small = cv2.resize(photo, None, fx=0.1, fy=0.1, interpolation=cv2.INTER_AREA)
    response = client.post("/predict?faces=1", files={"file": ("thumbnail.jpg", jpeg(small), "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 0 and len(body["too_small"]) == 1
    left, top, right, bottom = body["too_small"][0]
    assert 0 <= left < right <= small.shape[1] and 0 <= top < bottom <= small.shape[0] and right - left < 24
    assert body["message"] == "1 face found, under 24 px: too small to classify; try a larger photo"


@pytest.mark.parametrize("name, body, status, words", [
    ("not an image", b"this is a text file, not a photo", 415, "not an image"),
    ("empty", b"", 400, "empty"),
])
def test_bad_uploads(client, name, body, status, words):
    response = client.post("/predict", files={"file": ("x.jpg", body, "image/jpeg")})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_truncated_images(client, photo, face_jpeg):
    """Photos (decoded on a thread) and face crops (decoded on the event loop: INLINE_DECODE_PIXELS) alike."""
    crop = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    for encoded in (jpeg(photo), cv2.imencode(".png", photo)[1].tobytes(), face_jpeg,
                    cv2.imencode(".png", crop)[1].tobytes()):
        response = client.post("/predict", files={"file": ("cut.jpg", encoded[:len(encoded) // 2], "image/jpeg")})
        assert response.status_code == 400, response.text
        assert "truncated" in response.json()["detail"]


def test_upload_over_the_size_limit(client):
    body = np.random.default_rng(1).integers(0, 256, MAX_UPLOAD_MB * 1024 * 1024 + 1, dtype=np.uint8).tobytes()
    response = client.post("/predict", files={"file": ("big.jpg", body, "image/jpeg")})
    assert response.status_code == 413, response.text
    assert "limit" in response.json()["detail"]


def test_chunked_upload_over_the_size_limit(client):
    def chunks():  # no Content-Length: the server has to count
        for _ in range(MAX_UPLOAD_MB * 4):
            yield b"\0" * 512 * 1024
    response = client.post("/predict", content=chunks(), headers={"content-type": "image/jpeg"})
    assert response.status_code == 413, response.text


def test_huge_dimensions_are_refused_before_decoding(client):
    bomb = png_header(100_000, 100_000)
    assert len(bomb) < 200
    response = client.post("/predict", files={"file": ("bomb.png", bomb, "image/png")})
    assert response.status_code == 413, response.text
    assert "100000x100000" in response.json()["detail"]


def test_strips_are_refused_as_face_crops_but_not_as_photos(client):
    strip = cv2.imencode(".png", np.full((40, 4000), 128, np.uint8))[1].tobytes()
    response = client.post("/predict", files={"file": ("strip.png", strip, "image/png")})
    assert response.status_code == 422 and "4000x40" in response.json()["detail"]
    response = client.post("/predict?faces=1", files={"file": ("strip.png", strip, "image/png")})
    assert response.status_code == 200 and response.json()["count"] == 0


@pytest.mark.parametrize("height, width", [(2, 20000), (20000, 2), (1, 1), (11, 48)])
def test_images_below_the_minimum_side_are_refused_with_and_without_faces(client, height, width):
    image = cv2.imencode(".png", np.full((height, width), 128, np.uint8))[1].tobytes()
    for params in ({}, {"faces": 1}):
        response = client.post("/predict", params=params, files={"file": ("small.png", image, "image/png")})
        assert response.status_code == 422, response.text
        assert f"{width}x{height} pixels; both sides must be at least 12 px" in response.json()["detail"]


@pytest.mark.parametrize("payload, status", [
    ({"data": {"image": "not base64 at all!"}}, 400),
    ({"data": {}}, 422),
    ({"image": "abc"}, 422),
    ({"data": {"image": base64.b64encode(b"plain text").decode()}}, 415),
])
def test_bad_json(client, payload, status):
    response = client.post("/predict", json=payload)
    assert response.status_code == status, response.text


def test_bad_requests(client, face_jpeg):
    not_json = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["detail"]
    assert client.post("/predict", content=b"hello", headers={"content-type": "text/plain"}).status_code == 415
    no_file = client.post("/predict", files={"image": ("face.jpg", face_jpeg, "image/jpeg")})
    assert no_file.status_code == 422 and "'file'" in no_file.json()["detail"]


def test_concurrent_requests_are_all_answered(server, face_jpeg, client):
    expected = client.post("/predict", files={"file": ("face.jpg", face_jpeg, "image/jpeg")}).json()
    before = client.get("/metrics").text

    async def burst():
        async with httpx.AsyncClient(base_url=server, timeout=120) as http:
            return await asyncio.gather(*[
                http.post("/predict", files={"file": ("face.jpg", face_jpeg, "image/jpeg")}) for _ in range(32)])

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 32
    for r in responses:  # the same face gets the same answer (distinct faces: test_concurrent_distinct_faces...)
        assert r.json()["label"] == expected["label"]
        assert r.json()["score"] == pytest.approx(expected["score"], abs=1e-5)
    assert client.get("/healthz").status_code == 200
    assert metric(client.get("/metrics").text, "fer_batches_total") - metric(before, "fer_batches_total") < 32, \
        "concurrent requests should share batches"


def test_a_lone_request_does_not_wait_for_a_batch_but_concurrent_ones_share_one(inference_dir, face_jpeg):
    """With a long batching wait (--max-wait-ms 300): a request with no other on its way is answered at once,
    and requests that arrive together still share batches."""
    with running_server(inference_dir, extra_args=["--max-wait-ms", 300]) as url, \
            httpx.Client(base_url=url, timeout=60) as http:
        upload = {"file": ("face.jpg", face_jpeg, "image/jpeg")}
        for _ in range(3):
            assert http.post("/predict", files=upload).status_code == 200
        text = http.get("/metrics").text
        waited = metric(text, 'fer_stage_seconds_sum{stage="queue"}')
        assert metric(text, 'fer_stage_seconds_count{stage="queue"}') == 3 and waited < 0.1, waited

        async def burst():
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                return await asyncio.gather(*[client.post("/predict", files=upload) for _ in range(16)])
        assert [r.status_code for r in asyncio.run(burst())] == [200] * 16
        assert metric(http.get("/metrics").text, "fer_batches_total") - metric(text, "fer_batches_total") < 16


def metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


def test_metrics(client, face_jpeg):
    client.post("/predict", files={"file": ("x.jpg", b"nope", "image/jpeg")})
    client.post("/predict", files={"file": ("face.jpg", face_jpeg, "image/jpeg")})
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert 'fer_requests_total{path="/predict",status="200"}' in text
    assert 'fer_requests_total{path="/predict",status="415"}' in text
    assert 'fer_requests_total{path="other",status="404"}' in text
    for q in ("0.5", "0.95", "0.99"):
        assert f'fer_request_latency_seconds{{path="/predict",quantile="{q}"}}' in text
    assert metric(text, "fer_batch_images_total") >= metric(text, "fer_batches_total") > 0


def test_metrics_say_where_a_requests_time_goes(client, face_jpeg, photo):
    before = client.get("/metrics").text
    assert client.post("/predict", files={"file": ("face.jpg", face_jpeg, "image/jpeg")}).status_code == 200
    assert client.post("/predict?faces=1", files={"file": ("p.jpg", jpeg(photo), "image/jpeg")}).status_code == 200
    after = client.get("/metrics").text

    def stage(text, name, kind="count"):
        return metric(text, f'fer_stage_seconds_{kind}{{stage="{name}"}}')
    counted = {name: stage(after, name) - stage(before, name) for name in
               ("read", "decode", "queue", "preprocess", "graph", "find", "respond")}
    # Both requests read, decoded and answered; the crop waited for a batch; the photo's faces were found once;
    # every model run (the face-status model, then an expression model, for each) was preprocessed and timed.
    assert counted["read"] == counted["decode"] == counted["respond"] == 2 and counted["find"] == 1
    assert counted["queue"] == 1 and counted["preprocess"] == counted["graph"] >= 2
    for name in counted:
        assert f'fer_stage_seconds{{stage="{name}",quantile="0.5"}}' in after
    assert 0 < stage(after, "graph", "sum") - stage(before, "graph", "sum") < 10


def test_openapi_schema_is_valid(client, face_jpeg):
    from openapi_spec_validator import validate

    schema = client.get("/openapi.json").json()
    validate(schema)
    operation = schema["paths"]["/predict"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json", "image/*"}
    assert content["application/json"]["schema"]["$ref"] == "#/components/schemas/FastDeployRequest"
    assert {"200", "400", "413", "415", "422"} <= set(operation["responses"])
    assert [p["name"] for p in operation["parameters"]] == ["faces"]
    # The answers follow the published schema.
    components = schema["components"]["schemas"]
    body = client.post("/predict", files={"file": ("face.jpg", face_jpeg, "image/jpeg")}).json()
    assert set(body) == set(components["PredictResponse"]["properties"])
    assert set(components["PredictResponse"]["required"]) <= set(body)
    health = client.get("/healthz").json()
    assert set(health) == set(components["Health"]["properties"])


def test_fastdeploy_backend_under_python310(py310, inference_dir, face_jpeg):
    from deploy.images import decode_image
    from deploy.predictor import Predictor

    # FastDeploy computes in float32: so does the reference (this random model's scores differ by 1e-8).
    paddle_answer = Predictor(inference_dir, precision="fp32").predict([decode_image(face_jpeg)])[0]
    with running_server(inference_dir, backend="fastdeploy", python=py310) as url:
        health = httpx.get(f"{url}/healthz").json()
        assert health["backend"] == "fastdeploy" and health["precision"] == "fp32"
        response = httpx.post(f"{url}/predict", json={"data": {"image": base64.b64encode(face_jpeg).decode()}},
                              timeout=60)
        # The face finder runs in .venv310 too (tflite-runtime), so ?faces=1 works on the FastDeploy backend.
        faces = httpx.post(f"{url}/predict?faces=1", files={"file": ("face.jpg", face_jpeg, "image/jpeg")},
                           timeout=60)
    assert faces.status_code == 200 and "faces" in faces.json(), faces.text
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == paddle_answer.label
    assert body["score"] == pytest.approx(paddle_answer.score, abs=1e-3)
    # FastDeploy's own client reads the "result" field as its simple serving documents.
    script = ("import json, sys; import fastdeploy as fd; "
              "r = fd.vision.utils.json_to_classify(json.loads(sys.argv[1])); print(json.dumps(list(r.label_ids)))")
    read = subprocess.run([str(py310), "-c", script, body["result"]], capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    labels = health["labels"]
    assert [labels[i] for i in json.loads(read.stdout.splitlines()[-1])] == [t["label"] for t in body["topk"]]


def test_loadtest_reports_throughput_and_percentiles(server):
    from deploy.loadtest import markdown_table, run_loadtest

    results = run_loadtest(server, concurrencies=(1, 4), requests=12, seconds=30, warmup=1)
    assert [r["concurrency"] for r in results] == [1, 4]
    for r in results:
        assert r["requests"] == r["ok"] == 12 and r["errors"] == 0
        assert r["throughput_rps"] > 0 and 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
    assert markdown_table(results).count("\n") == 3
    photos = run_loadtest(server, concurrencies=(2,), requests=4, seconds=30, warmup=1, faces=True)
    assert photos[0]["ok"] == 4, photos
    metrics = httpx.get(f"{server}/metrics").text
    assert metric(metrics, 'fer_stage_seconds_count{stage="find"}') >= 5   # they went to ?faces=1
    refused = run_loadtest(server, image=b"not an image", concurrencies=(2,), requests=6, seconds=30, warmup=0)
    assert refused[0]["requests"] == refused[0]["errors"] == 6 and refused[0]["ok"] == 0
    with pytest.raises(ValueError, match="loopback"):
        run_loadtest("http://example.com:8080", requests=1)


def test_docs_are_served_without_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in page.text
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and all(link.startswith("/") for link in links), links        # nothing from another host
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        response = client.get(f"/docs/static/{asset}")
        assert response.status_code == 200 and len(response.content) > 10_000
    assert client.get("/redoc").status_code == 404


def odd_uploads():
    """Files a careless or hostile client sends, each as (name, bytes)."""
    def encoded(image, fmt, **kw):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **kw)
        return buffer.getvalue()
    gray = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64), dtype=np.uint8))
    frames = [gray, gray.transpose(Image.FLIP_LEFT_RIGHT)]
    return [
        ("animated.gif", encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])),
        ("one_bit.png", encoded(gray.convert("1"), "PNG")),
        ("float.tiff", encoded(gray.convert("F"), "TIFF")),
        ("lab.tiff", encoded(gray.convert("RGB").convert("LAB"), "TIFF")),
        ("cmyk.jpg", encoded(gray.convert("CMYK"), "JPEG")),
        ("header_only.png", png_header(64, 64)),
        ("zero_size.png", png_header(0, 0)),
        ("jpeg_start.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 20),
        ("wide.png", cv2.imencode(".png", np.zeros((12, 20000), np.uint8))[1].tobytes()),
    ]


@pytest.mark.parametrize("faces", [False, True])
def test_no_upload_gets_a_500(client, faces):
    for name, data in odd_uploads():
        response = client.post("/predict", params={"faces": int(faces)}, files={"file": (name, data, "image/png")})
        assert response.status_code < 500, (name, response.status_code, response.text)
        assert response.status_code == 200 or response.json()["detail"], name


def test_a_whole_photo_without_faces_gets_the_clis_hint(client, photo, face_jpeg):
    whole = client.post("/predict", files={"file": ("hopper.jpg", jpeg(photo), "image/jpeg")})
    assert whole.status_code == 200 and "looks like a whole photo" in whole.json()["warning"]
    assert "faces=1" in whole.json()["warning"]
    crop = client.post("/predict", files={"file": ("face.jpg", face_jpeg, "image/jpeg")})
    assert crop.status_code == 200 and crop.json()["warning"] is None


def distinct_faces(count=24):
    """Gray 48x48 images, each with its own bright bars on noise: the discriminating model answers each
    differently, so a mixed-up answer shows."""
    rng = np.random.default_rng(5)
    faces = []
    for _ in range(count):
        face = rng.integers(0, 90, (48, 48), dtype=np.uint8)
        for _ in range(3):
            top, left = rng.integers(0, 40, 2)
            face[top:top + 8, left:left + rng.integers(8, 40)] = rng.integers(150, 255)
        faces.append(jpeg(face))
    return faces


@pytest.fixture(scope="module")
def discriminating_model(inference_dir, tmp_path_factory):
    from predictor_models import export_discriminating_model
    return export_discriminating_model(inference_dir, tmp_path_factory.mktemp("discriminating"))


@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_distinct_faces_each_get_their_own_answer(discriminating_model, workers):
    """Batching (and, with two workers, two processes) must neither mix answers up nor change them."""
    faces = distinct_faces()
    threads = ["--cpu-threads", "1"] if workers > 1 else []     # each process on one thread, as on two cores
    with running_server(discriminating_model, extra_args=["--workers", str(workers), "--max-wait-ms", "20",
                                                          *threads]) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            alone = [http.post("/predict", files={"file": ("f.jpg", face, "image/jpeg")}).json() for face in faces]
        before = httpx.get(f"{url}/metrics").text
        order = np.random.default_rng(0).permutation(len(faces))

        async def burst():
            async with httpx.AsyncClient(base_url=url, timeout=120) as http:
                return await asyncio.gather(*[
                    http.post("/predict", files={"file": ("f.jpg", faces[i], "image/jpeg")}) for i in order])
        together = asyncio.run(burst())
        after = httpx.get(f"{url}/metrics").text
    assert len({round(a["score"], 4) for a in alone}) == len(faces) and len({a["label"] for a in alone}) >= 2
    for i, response in zip(order, together):
        assert response.status_code == 200
        answer = response.json()
        assert [t["label"] for t in answer["topk"]] == [t["label"] for t in alone[i]["topk"]], i
        np.testing.assert_allclose([t["score"] for t in answer["topk"]], [t["score"] for t in alone[i]["topk"]],
                                   atol=1e-5)
    if workers == 1:   # the metrics are per process; one process holds them all
        assert metric(after, "fer_batches_total") - metric(before, "fer_batches_total") < len(faces), \
            "concurrent requests should share batches"


def test_a_bug_is_logged_with_a_request_id_and_the_client_gets_only_the_id(inference_dir, photo, caplog):
    """The catch-all answer used to carry the exception's own text (internals, paths) to the client."""
    from fastapi.testclient import TestClient

    from deploy.predictor import Predictor
    from deploy.server.app import Settings, create_app

    class PredictorWithABug(Predictor):
        def predict_faces(self, image, **options):
            raise KeyError("/secret/path/inside/the/server")

    app = create_app(Settings(model_dir=str(inference_dir)), PredictorWithABug(inference_dir))
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level("ERROR", "uvicorn.error"):
        response = client.post("/predict?faces=1", files={"file": ("photo.jpg", jpeg(photo), "image/jpeg")})
    assert response.status_code == 500
    body = response.json()
    assert "secret" not in response.text and body["request_id"] in body["detail"]
    logged, = [r for r in caplog.records if body["request_id"] in r.getMessage()]
    assert logged.exc_info[0] is KeyError
