// A matrix drawn on a <canvas>, one pixel per entry, coloured on a diverging scale from -limit to
// +limit; hovering an entry shows its row, column and value. The values travel as float32.

function decodeFloat32(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

function layout(parentElement) {
  let root = parentElement.querySelector("div.qe-matrix-view");
  if (!root) {
    root = document.createElement("div");
    root.className = "qe-canvas-view qe-matrix-view";
    root.innerHTML = `<div class="qe-matrix-title"></div>
      <div class="qe-frame"><canvas></canvas><div class="qe-marker"></div></div>
      ${COLORBAR_HTML}<div class="qe-tooltip" role="status"></div>`;
    parentElement.appendChild(root);
    attachHover(root);
  }
  return root;
}

function attachHover(root) {
  const tooltip = root.querySelector(".qe-tooltip");
  const marker = root.querySelector(".qe-marker");
  const canvas = root.querySelector(".qe-frame canvas");
  const hide = () => {
    tooltip.style.display = "none";
    marker.style.display = "none";
  };
  canvas.addEventListener("mouseleave", hide);
  canvas.addEventListener("mousemove", (event) => {
    const { values, rows, columns, step } = root.qeView;
    const box = canvas.getBoundingClientRect();
    const column = Math.min(columns - 1, Math.floor(((event.clientX - box.left) / box.width) * columns));
    const row = Math.min(rows - 1, Math.floor(((event.clientY - box.top) / box.height) * rows));
    if (column < 0 || row < 0) return hide();
    const value = values[row * columns + column];
    showTooltip(root, tooltip, [`row ${row * step}, column ${column * step}`, `value ${value.toPrecision(4)}`], event);
    const frame = canvas.getBoundingClientRect();
    const rootBox = root.querySelector(".qe-frame").getBoundingClientRect();
    marker.style.display = "block";
    marker.style.left = `${frame.left - rootBox.left + (frame.width * column) / columns}px`;
    marker.style.top = `${(frame.height * row) / rows}px`;
    marker.style.width = `max(6px, ${frame.width / columns}px)`;
    marker.style.height = `max(6px, ${frame.height / rows}px)`;
  });
}

export default function ({ parentElement, data }) {
  const root = layout(parentElement);
  if (root.dataset.drawn === data.revision) return; // unchanged since the last run
  root.classList.toggle("qe-presentation", Boolean(data.presentation));
  root.dataset.expected = data.revision;
  const { rows, columns, limit } = data;
  const values = decodeFloat32(data.values);
  const table = lookupTable(data.colorscale);
  const image = new ImageData(columns, rows);
  const span = 2 * Math.max(limit, Number.MIN_VALUE);
  for (let p = 0; p < values.length; p++) {
    const level = Math.min(255, Math.max(0, Math.round(((values[p] + limit) / span) * 255))) * 3;
    image.data.set([table[level], table[level + 1], table[level + 2], 255], p * 4);
  }
  const frame = root.querySelector(".qe-frame");
  const canvas = frame.querySelector("canvas");
  canvas.style.aspectRatio = `${columns} / ${rows}`;
  frame.style.width = `min(100%, ${(data.height_px * columns) / rows}px)`;
  put(frame, image);
  root.querySelector(".qe-matrix-title").textContent = data.title;
  drawColorbar(root, data.colorbar_title, data.ticks, -limit, limit, table);
  root.qeView = { values, rows, columns, step: data.step };
  root.dataset.drawn = data.revision;
}
