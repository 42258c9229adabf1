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
    root.className = "qe-canvas-view qe-error-map";
    root.innerHTML = `<div class="qe-panels"></div>
      ${COLORBAR_HTML}<div class="qe-tooltip" role="status"></div>`;
    parentElement.appendChild(root);
  }
  return root;
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
    showTooltip(root, tooltip, [
      `row ${row * step}, column ${column * step}`,
      `original ${rgb(original, p)}`,
      `shared ${rgb(shared, p)}`,
      `error E = ${values[p]}`,
    ], event);
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
    drawColorbar(root, data.colorbar_title, data.ticks, 0, data.scale_max, table);
    attachHover(root, { original: originalImage, shared: sharedImage, values, width, height, step: data.step });
    root.dataset.drawn = data.revision;
    if (data.original_png) setStateValue("held", data.digest);
  });
}
