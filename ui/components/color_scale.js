// Colour scales and colorbars shared by the project's canvas components (prepended to their modules).

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

const COLORBAR_HTML = `<div class="qe-colorbar"><div class="qe-colorbar-title"></div>
  <canvas width="256" height="1"></canvas><div class="qe-colorbar-ticks"></div></div>`;

// Fill root's colorbar: the scale from low (left) to high (right), its title and tick labels.
function drawColorbar(root, title, ticks, low, high, table) {
  const canvas = root.querySelector(".qe-colorbar canvas");
  const bar = new ImageData(256, 1);
  for (let i = 0; i < 256; i++) {
    bar.data.set([table[i * 3], table[i * 3 + 1], table[i * 3 + 2], 255], i * 4);
  }
  canvas.getContext("2d").putImageData(bar, 0, 0);
  root.querySelector(".qe-colorbar-title").textContent = title;
  const span = high > low ? high - low : 1;
  root.querySelector(".qe-colorbar-ticks").replaceChildren(
    ...ticks.map((tick) => {
      const label = document.createElement("span");
      label.textContent = tick;
      label.style.left = `${(100 * (tick - low)) / span}%`;
      return label;
    }),
  );
}

// Put an ImageData on the figure's canvas, resizing the canvas to it.
function put(figure, image) {
  const canvas = figure.querySelector("canvas");
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width;
    canvas.height = image.height;
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
}

// Show lines of text in the tooltip near the pointer, kept inside root.
function showTooltip(root, tooltip, lines, event) {
  tooltip.replaceChildren(
    ...lines.map((line) => {
      const div = document.createElement("div");
      div.textContent = line;
      return div;
    }),
  );
  const box = root.getBoundingClientRect();
  tooltip.style.display = "block";
  tooltip.style.left = `${Math.max(0, Math.min(event.clientX - box.left + 14, box.width - tooltip.offsetWidth - 4))}px`;
  tooltip.style.top = `${event.clientY - box.top + 14}px`;
}

