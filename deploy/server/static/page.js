// The demo page: a photo or webcam frames go to POST /predict?faces=1; boxes, labels and a bar per class come back.
"use strict";
const $ = (id) => document.getElementById(id);
const picture = $("picture"), video = $("video"), facesList = $("faces");
let labels = [], streaming = null, fps = 0;

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

async function describeModel() {
  try {
    const response = await fetch("/healthz");
    const model = await response.json();
    labels = model.labels;
    $("model").textContent = `Model: ${model.model} (${model.backend} backend); classes: ${labels.join(", ")}`;
  } catch (err) {
    $("model").textContent = "The server did not describe its model.";
    showError(`The server cannot be reached: ${err.message}`);
  }
}

async function classify(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  let response;
  try {
    response = await fetch("/predict?faces=1", { method: "POST", body: form });
  } catch (err) {
    throw new Error(`The server cannot be reached: ${err.message}`);
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail))
                                       : response.statusText;
    throw new Error(`The server refused the image (HTTP ${response.status}): ${detail}`);
  }
  return body;
}

// Masked faces in a mask's light blue, unmasked ones in green (deploy/annotate.py draws the same).
const MASKED_COLOUR = "#28aae6", UNMASKED_COLOUR = "#3bd36b", TOO_SMALL_COLOUR = "#a0a0a0";

// "mask 0.97 " / "no mask 0.88 " (short: "mask "), or "" where the server gives no mask status.
function maskText(face, short) {
  if (face.masked === undefined || face.masked === null) return "";
  const name = face.masked ? "mask" : "no mask";
  if (short) return `${name} `;
  const score = face.masked ? face.mask_score : 1 - face.mask_score;
  return `${name} ${score.toFixed(2)}, `;
}

// Pictures are drawn with a longer side of at least the width the page shows them at (page.css), so that a
// crowd's labels have room, and a 48 px face crop's label fits beside its box.
const MIN_DRAWN_SIDE = 720;

function clearPicture() {
  picture.hidden = true;
  $("placeholder").hidden = false;
  facesList.replaceChildren();
}

// Where each face's label goes (deploy/annotate.py's place_labels, the same rule): above its box, below it, or
// inside its top or bottom, at its left or right edge or centred, inside the picture; each label takes the
// place that covers the least of the others' labels, then of the other faces.
function placeLabels(width, height, boxes, sizes, rounds = 3) {
  const overlap = (a, b) => Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) *
                            Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const options = boxes.map(([left, top, right, bottom], i) => {
    const [w, h] = sizes[i], places = [];
    for (const y of [top - h, bottom, top, bottom - h]) {
      for (const x of [left, right - w, (left + right - w) / 2]) {
        places.push([Math.max(0, Math.min(x, width - 2 - w)), Math.max(0, Math.min(y, height - 2 - h))]);
      }
    }
    return places;
  });
  const bands = boxes.map(() => null);
  const band = (i, [x, y]) => [x, y, x + sizes[i][0], y + sizes[i][1]];
  const cost = (i, corner) => {
    const placed = band(i, corner);
    let onLabels = 0, onFaces = 0;
    bands.forEach((other, j) => { if (j !== i && other) onLabels += overlap(placed, other); });
    boxes.forEach((box, j) => { if (j !== i) onFaces += overlap(placed, box); });
    return [onLabels, onFaces];
  };
  const best = (i) => options[i].reduce((a, b) => {
    const [ca, cb] = [cost(i, a), cost(i, b)];
    return cb[0] < ca[0] || (cb[0] === ca[0] && cb[1] < ca[1]) ? b : a;
  });
  boxes.forEach((_, i) => { bands[i] = band(i, best(i)); });
  for (let round = 0; round < rounds; round++) {
    const crowded = boxes.map((_, i) => i).filter((i) => cost(i, bands[i])[0] > 0);
    if (!crowded.length) break;
    crowded.forEach((i) => { bands[i] = band(i, best(i)); });
  }
  return bands;
}

// "masked-face model" / "unmasked-face model": which expression model answered, where the server says.
function modelText(face) {
  return face.expression_model ? `${face.expression_model}-face model` : "";
}

function drawFaces(source, width, height, faces, tooSmall = []) {
  const scale = Math.max(1, MIN_DRAWN_SIDE / Math.max(width, height));
  picture.width = Math.round(width * scale);
  picture.height = Math.round(height * scale);
  picture.hidden = false;
  $("placeholder").hidden = true;
  const ctx = picture.getContext("2d");
  ctx.drawImage(source, 0, 0, picture.width, picture.height);
  const line = Math.max(2, Math.round(Math.min(picture.width, picture.height) / 200));
  // Faces too small to classify: a thin grey box, no label.
  ctx.strokeStyle = TOO_SMALL_COLOUR;
  ctx.lineWidth = 1;
  tooSmall.forEach((box) => {
    // On the pixel grid (+0.5), so that the one-pixel line is drawn in its colour, not smeared over two.
    const [left, top, right, bottom] = box.map((v) => Math.round(v * scale) + 0.5);
    ctx.strokeRect(left, top, right - left, bottom - top);
  });
  ctx.font = `${Math.max(14, Math.round(picture.height / 30))}px system-ui, sans-serif`;
  const size = parseInt(ctx.font, 10);
  const boxes = faces.map((face) => face.box.map((v) => v * scale));
  const texts = faces.map((face, i) => `${i + 1}: ${maskText(face, true)}${face.label} ${face.score.toFixed(2)}`);
  const bands = placeLabels(picture.width, picture.height, boxes,
                            texts.map((text) => [ctx.measureText(text).width + 8, size + 6]));
  const colours = faces.map((face) => (face.masked ? MASKED_COLOUR : UNMASKED_COLOUR));
  boxes.forEach(([left, top, right, bottom], i) => {
    ctx.strokeStyle = colours[i];
    ctx.lineWidth = line;
    ctx.strokeRect(left, top, right - left, bottom - top);
  });
  bands.forEach(([x, y, right, bottom], i) => {
    ctx.fillStyle = colours[i];
    ctx.fillRect(x, y, right - x, bottom - y);
    ctx.fillStyle = "#000";
    ctx.fillText(texts[i], x + 4, bottom - 6);
  });
  facesList.replaceChildren(...faces.map((face, i) => {
    const item = document.createElement("li");
    item.className = "face";
    const title = document.createElement("h2");
    const model = modelText(face);
    title.textContent = `Face ${i + 1}: ${maskText(face, false)}${face.label} (${face.score.toFixed(2)})` +
                        (model ? `, answered by the ${model}` : "");
    if (face.masked !== undefined && face.masked !== null) item.classList.add(face.masked ? "masked" : "unmasked");
    item.append(title);
    const scores = Object.fromEntries(face.topk.map((entry) => [entry.label, entry.score]));
    (labels.length ? labels : Object.keys(scores)).forEach((label) => {
      const score = scores[label] || 0;
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.innerHTML = `<span></span><span class="track"><span class="fill"></span></span><span></span>`;
      bar.children[0].textContent = label;
      bar.querySelector(".fill").style.width = `${(100 * score).toFixed(1)}%`;
      bar.children[2].textContent = score.toFixed(2);
      item.append(bar);
    });
    return item;
  }));
}

// Each chosen file takes the next number; an answer is shown only if no file was chosen after its own, since
// answers can come back out of order (a broken file is refused before a photo is classified).
let latestFile = 0;

async function classifyFile(file) {
  if (!file) return;
  const number = ++latestFile;
  showError("");
  $("status").textContent = `Classifying ${file.name}…`;
  try {
    const result = await classify(file, file.name);
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    if (number !== latestFile) return;
    drawFaces(bitmap, bitmap.width, bitmap.height, result.faces, result.too_small);
    const small = result.too_small.length ? `, and ${result.too_small.length} too small to classify` : "";
    $("status").textContent = result.count ? `${result.count} face(s) in ${file.name}${small}`
                                           : result.message ? `${file.name}: ${result.message}`
                                                            : `No face found in ${file.name}`;
  } catch (err) {
    if (number !== latestFile) return;
    // What is on screen belongs to the previous photo: it goes, so that no one reads it as this one's answer.
    clearPicture();
    $("status").textContent = "";
    showError(err.message);
  }
}

async function cameraLoop() {
  const grab = document.createElement("canvas");
  while (streaming) {
    const started = performance.now();
    grab.width = video.videoWidth;
    grab.height = video.videoHeight;
    if (grab.width && grab.height) {
      grab.getContext("2d").drawImage(video, 0, 0);
      const blob = await new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.8));
      try {
        const result = await classify(blob, "frame.jpg");
        drawFaces(grab, grab.width, grab.height, result.faces, result.too_small);
        showError("");
      } catch (err) {
        showError(err.message);
      }
      const instant = 1000 / Math.max(1, performance.now() - started);
      fps = fps ? 0.8 * fps + 0.2 * instant : instant;
      $("fps").textContent = `${fps.toFixed(1)} frames/s`;
    }
    // A few frames a second is enough to follow expressions, and leaves the server room for others.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 250 - (performance.now() - started))));
  }
}

async function toggleCamera() {
  if (streaming) {
    streaming.getTracks().forEach((track) => track.stop());
    streaming = null;
    $("camera").textContent = "Start the webcam";
    $("fps").textContent = "";
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("This browser offers no webcam here (it needs https or localhost).");
    return;
  }
  try {
    streaming = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (err) {
    showError(`The webcam could not be started: ${err.message}`);
    return;
  }
  video.srcObject = streaming;
  await video.play();
  $("camera").textContent = "Stop the webcam";
  cameraLoop();
}

$("file").addEventListener("change", (event) => classifyFile(event.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  classifyFile(event.dataTransfer.files[0]);
});
$("camera").addEventListener("click", toggleCamera);
describeModel();
