// One plotly chart that stays on the page: Streamlit keeps this component's DOM across reruns (it has a
// key), so each new figure is drawn with Plotly.react on the same div, which diffs it against the last
// one instead of building a new plot. plotly.js is loaded once per tab from the app's own static files.

function loadPlotly(url) {
  if (!window.quantizationExplorerPlotly) {
    window.quantizationExplorerPlotly = new Promise((resolve, reject) => {
      if (window.Plotly) return resolve(window.Plotly);
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        window.quantizationExplorerPlotly = null; // let the next draw try again
        reject(new Error(`could not load plotly.js from ${url}`));
      };
      document.head.appendChild(script);
    });
  }
  return window.quantizationExplorerPlotly;
}

// The theme's text colour and font, which Streamlit sets as CSS variables around the component. Read
// once per chart: getComputedStyle in the middle of Streamlit's DOM updates forces a style recalculation.
function themed(layout, plot, element) {
  if (!plot.qeTheme) {
    const style = getComputedStyle(element);
    const color = style.getPropertyValue("--st-text-color").trim();
    const family = style.getPropertyValue("--st-font").trim();
    plot.qeTheme = { ...(color && { color }), ...(family && { family }) };
  }
  const font = { ...plot.qeTheme, ...(layout.font || {}) };
  return { paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", ...layout, font };
}

// Plotly.react takes a data array it drew last time (the same object) as unchanged, and any other array as
// new data, which makes it compute and draw the whole plot again. So the parts of a new figure's traces
// equal to the last figure's are the last figure's objects, and each array plotly.py sent as base64
// ({dtype, bdata, shape}, which plotly.js would decode anew each time) is decoded here once: a move that
// changes only the layout (a line marking the slider's value, say) redraws only that.
function reuseEqual(next, previous) {
  if (next === previous || next === null || previous === null || typeof next !== "object" || typeof previous !== "object") {
    return next;
  }
  if (Array.isArray(next) !== Array.isArray(previous)) return next;
  const keys = Object.keys(next);
  let same = keys.length === Object.keys(previous).length;
  const merged = Array.isArray(next) ? [] : {};
  for (const key of keys) {
    merged[key] = reuseEqual(next[key], previous[key]);
    same = same && merged[key] === previous[key];
  }
  return same ? previous : merged;
}

const TYPED_ARRAYS = {
  i1: Int8Array, u1: Uint8Array, u1c: Uint8ClampedArray, i2: Int16Array, u2: Uint16Array,
  i4: Int32Array, u4: Uint32Array, f4: Float32Array, f8: Float64Array,
};
const decodedOnce = new WeakMap(); // a part of a figure -> the same with its base64 arrays decoded

function decoded(value) {
  if (value === null || typeof value !== "object") return value;
  if (!decodedOnce.has(value)) decodedOnce.set(value, decode(value));
  return decodedOnce.get(value);
}

function decode(value) {
  if (Array.isArray(value)) return value.map(decoded);
  const dimensions = String(value.shape ?? "").split(",").filter((size) => size.trim()).map(Number);
  if (typeof value.bdata !== "string" || !TYPED_ARRAYS[value.dtype] || dimensions.length > 2) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, decoded(item)]));
  }
  const bytes = Uint8Array.from(atob(value.bdata), (c) => c.charCodeAt(0));
  const values = new TYPED_ARRAYS[value.dtype](bytes.buffer);
  const [rows, columns] = dimensions;
  if (columns === undefined) return values;
  return Array.from({ length: rows }, (_, row) => values.subarray(row * columns, (row + 1) * columns));
}

// How far outside the window a chart still counts as in view: it is drawn before it scrolls in.
const NEAR_VIEW = "400px 0px";

export default function ({ parentElement, data }) {
  if (data.preload) {
    // Nothing to draw: start loading plotly.js while the reader is still deciding where to go, and
    // take no room on the page.
    const container = parentElement.closest("[data-testid=stElementContainer]");
    if (container) container.style.display = "none";
    loadPlotly(data.plotly_url).catch(() => {}); // a chart's own draw reports a failure
    return;
  }
  const plot = parentElement.querySelector("div.qe-plotly-chart") ?? newPlot(parentElement);
  if (plot.dataset.drawn === data.revision && plot.dataset.expected === data.revision) return cleanup(plot); // unchanged
  delete plot.dataset.expected; // until the draw starts: browser tests wait until drawn === expected
  plot.qePending = () => {
    plot.dataset.expected = data.revision;
    loadPlotly(data.plotly_url).then((Plotly) => {
      if (!plot.isConnected || plot.dataset.expected !== data.revision) return; // newer data or a page change
      const figure = JSON.parse(data.figure);
      const layout = themed(figure.layout || {}, plot, parentElement);
      plot.qeTraces = reuseEqual(figure.data || [], plot.qeTraces);
      Plotly.react(plot, decoded(plot.qeTraces), layout, { responsive: true, displaylogo: false, ...data.config });
      plot.dataset.drawn = data.revision;
    });
  };
  drawIfShown(plot, parentElement);
  return cleanup(plot);
}

// The chart's div, and the observers that draw a figure put off while the chart was not shown.
function newPlot(parentElement) {
  const plot = document.createElement("div");
  plot.className = "qe-plotly-chart";
  parentElement.appendChild(plot);
  const check = () => drawIfShown(plot, parentElement);
  const expander = parentElement.closest("details");
  const resizes = new ResizeObserver(check); // a tab's content gets a size when the tab is chosen
  const scrolls = new IntersectionObserver(([entry]) => {
    plot.qeNearView = entry.isIntersecting;
    check();
  }, { rootMargin: NEAR_VIEW });
  resizes.observe(parentElement);
  scrolls.observe(plot);
  expander?.addEventListener("toggle", check);
  plot.qeStopObserving = () => {
    resizes.disconnect();
    scrolls.disconnect();
    expander?.removeEventListener("toggle", check);
  };
  return plot;
}

// Draw the pending figure if the reader can see the chart or is about to. A chart in a closed expander
// or tab (whose content still has a width) waits until it is shown: plotly would measure it wrongly,
// and drawing it on every move is wasted. A chart far off screen waits until it scrolls near, except
// for its first figure, which gives it its height on the page.
function drawIfShown(plot, element) {
  const near = plot.qeNearView !== false || plot.dataset.drawn === undefined;
  if (!plot.qePending || !near || !element.checkVisibility()) return;
  const draw = plot.qePending;
  plot.qePending = null;
  draw();
}

// Streamlit calls this when the component leaves the page, and also at once when new data arrives while
// a draw is still starting: only a div that has left the document may be purged.
function cleanup(plot) {
  return () => {
    if (plot.isConnected) return;
    plot.qeStopObserving();
    if (window.Plotly) window.Plotly.purge(plot);
  };
}
