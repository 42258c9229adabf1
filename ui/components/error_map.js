// The error map: the original image, the image with shared colors and the per-pixel error
// E = |ΔR| + |ΔG| + |ΔB|, each drawn on a <canvas> from the pixels themselves. E, its colours and the
// hover (row, column, both colours, E) are computed here, in the browser, from the two images: a move
// of k sends only the new shared image (a small palette PNG); the original comes once per image.

const originals = new Map(); // digest -> Promise of ImageData; lives as long as the tab
const KEPT_ORIGINALS = 4;

async function decodePng(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  // No colour management and no premultiplied alpha: the pixels come back exactly as in the file.
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }), {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

function keepOriginal(digest, base64) {
  if (!originals.has(digest)) {
    originals.set(digest, decodePng(base64));
    while (originals.size > KEPT_ORIGINALS) originals.delete(originals.keys().next().value);
  }
  return originals.get(digest);
}

function errors(original, shared) {
  const a = original.data;
  const b = shared.data;
  const result = new Uint16Array(a.length / 4);
  for (let p = 0, i = 0; p < result.length; p++, i += 4) {
    result[p] = Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
  }
  return result;
}

// The colour scale as 256 RGB triples, interpolated between the stops [[fraction, "#rrggbb"], ...].
function lookupTable(stops) {
  const rgb = stops.map(([at, hex]) => [at, [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16))]);
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let s = 0;
    while (s < rgb.length - 2 && t > rgb[s + 1][0]) s++;
    const [t0, c0] = rgb[s];
    const [t1, c1] = rgb[s + 1];
    const f = t1 > t0 ? Math.min(1, Math.max(0, (t - t0) / (t1 - t0))) : 0;
    for (let c = 0; c < 3; c++) table[i * 3 + c] = Math.round(c0[c] + f * (c1[c] - c0[c]));
  }
  return table;
}

function errorImage(values, width, height, scaleMax, table) {
  const image = new ImageData(width, height);
  const out = image.data;
  const top = Math.max(scaleMax, 1);
  for (let p = 0, i = 0; p < values.length; p++, i += 4) {
    const level = Math.min(255, Math.round((values[p] / top) * 255)) * 3;
    out[i] = table[level];
    out[i + 1] = table[level + 1];
    out[i + 2] = table[level + 2];
    out[i + 3] = 255;
  }
  return image;
}

function panel(root, name, title) {
  let figure = root.querySelector(`figure[data-panel=${name}]`);
  if (!figure) {
    figure = document.createElement("figure");
    figure.dataset.panel = name;
    figure.innerHTML = `<div class="qe-frame"><canvas></canvas><div class="qe-marker"></div></div><figcaption></figcaption>`;
    root.querySelector(".qe-panels").appendChild(figure);
  }
  figure.querySelector("figcaption").textContent = title;
  return figure;
}

function layout(parentElement) {
  let root = parentElement.querySelector("div.qe-error-map");
  if (!root) {
    root = document.createElement("div");
    root.className = "qe-error-map";
    root.innerHTML = `<div class="qe-panels"></div>
      <div class="qe-colorbar"><div class="qe-colorbar-title"></div><canvas width="256" height="1"></canvas>
      <div class="qe-colorbar-ticks"></div></div><div class="qe-tooltip" role="status"></div>`;
    parentElement.appendChild(root);
  }
  return root;
}

function drawColorbar(root, data, table) {
  const canvas = root.querySelector(".qe-colorbar canvas");
  const bar = new ImageData(256, 1);
  for (let i = 0; i < 256; i++) {
    bar.data.set([table[i * 3], table[i * 3 + 1], table[i * 3 + 2], 255], i * 4);
  }
  canvas.getContext("2d").putImageData(bar, 0, 0);
  root.querySelector(".qe-colorbar-title").textContent = data.colorbar_title;
  root.querySelector(".qe-colorbar-ticks").replaceChildren(
    ...data.ticks.map((tick) => {
      const label = document.createElement("span");
      label.textContent = tick;
      label.style.left = `${(100 * tick) / Math.max(data.scale_max, 1)}%`;
      return label;
    }),
  );
}

function rgb(image, p) {
  const d = image.data;
  return `rgb(${d[4 * p]}, ${d[4 * p + 1]}, ${d[4 * p + 2]})`;
}

function attachHover(root, view) {
  root.qeView = view; // the hover handlers read the latest images
  if (root.qeHover) return;
  root.qeHover = true;
  const tooltip = root.querySelector(".qe-tooltip");
  const hide = () => {
    tooltip.style.display = "none";
    root.querySelectorAll(".qe-marker").forEach((marker) => (marker.style.display = "none"));
  };
  root.addEventListener("mouseleave", hide);
  root.addEventListener("mousemove", (event) => {
    const canvas = event.target.closest("canvas");
    const { original, shared, values, width, height, step } = root.qeView;
    if (!canvas || !canvas.closest(".qe-panels")) return hide();
    const box = canvas.getBoundingClientRect();
    const column = Math.min(width - 1, Math.floor(((event.clientX - box.left) / box.width) * width));
    const row = Math.min(height - 1, Math.floor(((event.clientY - box.top) / box.height) * height));
    if (column < 0 || row < 0) return hide();
    const p = row * width + column;
    tooltip.innerHTML = "";
    for (const line of [
      `row ${row * step}, column ${column * step}`,
      `original ${rgb(original, p)}`,
      `shared ${rgb(shared, p)}`,
      `error E = ${values[p]}`,
    ]) {
      const div = document.createElement("div");
      div.textContent = line;
      tooltip.appendChild(div);
    }
    const rootBox = root.getBoundingClientRect();
    tooltip.style.display = "block";
    const left = event.clientX - rootBox.left + 14;
    tooltip.style.left = `${Math.min(left, rootBox.width - tooltip.offsetWidth - 4)}px`;
    tooltip.style.top = `${event.clientY - rootBox.top + 14}px`;
    root.querySelectorAll(".qe-frame").forEach((frame) => {
      const marker = frame.querySelector(".qe-marker");
      marker.style.display = "block";
      marker.style.left = `${(100 * column) / width}%`;
      marker.style.top = `${(100 * row) / height}%`;
      marker.style.width = `max(6px, ${100 / width}%)`;
      marker.style.height = `max(6px, ${100 / height}%)`;
    });
  });
}

function put(figure, image) {
  const canvas = figure.querySelector("canvas");
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width;
    canvas.height = image.height;
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
}

export default function ({ parentElement, data, setStateValue }) {
  const root = layout(parentElement);
  root.classList.toggle("qe-presentation", Boolean(data.presentation));
  root.dataset.expected = data.revision; // browser tests wait until drawn === expected
  if (data.original_png) keepOriginal(data.digest, data.original_png);
  const original = originals.get(data.digest);
  if (!original) {
    setStateValue("held", null); // this tab lost the original: the next run sends it again
    return;
  }
  Promise.all([original, decodePng(data.shared_png)]).then(([originalImage, sharedImage]) => {
    if (root.dataset.expected !== data.revision) return; // newer data arrived while decoding
    const { width, height } = sharedImage;
    const values = errors(originalImage, sharedImage);
    const table = lookupTable(data.colorscale);
    put(panel(root, "original", data.titles[0]), originalImage);
    put(panel(root, "shared", data.titles[1]), sharedImage);
    put(panel(root, "error", data.titles[2]), errorImage(values, width, height, data.scale_max, table));
    drawColorbar(root, data, table);
    attachHover(root, { original: originalImage, shared: sharedImage, values, width, height, step: data.step });
    root.dataset.drawn = data.revision;
    if (data.original_png) setStateValue("held", data.digest);
  });
}
