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

export default function ({ parentElement, data }) {
  if (data.preload) {
    // Nothing to draw: start loading plotly.js while the reader is still deciding where to go, and
    // take no room on the page.
    const container = parentElement.closest("[data-testid=stElementContainer]");
    if (container) container.style.display = "none";
    loadPlotly(data.plotly_url).catch(() => {}); // a chart's own draw reports a failure
    return;
  }
  let plot = parentElement.querySelector("div.qe-plotly-chart");
  if (!plot) {
    plot = document.createElement("div");
    plot.className = "qe-plotly-chart";
    parentElement.appendChild(plot);
  }
  const figure = JSON.parse(data.figure);
  const draw = () => {
    plot.dataset.expected = data.revision; // browser tests wait until drawn === expected
    loadPlotly(data.plotly_url).then((Plotly) => {
      if (!plot.isConnected || plot.dataset.expected !== data.revision) return; // newer data or a page change
      const layout = themed(figure.layout || {}, plot, parentElement);
      Plotly.react(plot, figure.data || [], layout, { responsive: true, displaylogo: false, ...data.config });
      plot.dataset.drawn = data.revision;
    });
  };
  // A chart in a closed expander or tab has no width: plotly would draw it at a wrong size, and
  // redrawing it on every move is wasted. It is drawn when it first gets a width.
  plot.qeObserver?.disconnect();
  if (parentElement.offsetWidth > 0) {
    draw();
  } else {
    delete plot.dataset.expected;
    plot.qeObserver = new ResizeObserver(() => {
      if (parentElement.offsetWidth === 0) return;
      plot.qeObserver.disconnect();
      draw();
    });
    plot.qeObserver.observe(parentElement);
  }
  // Streamlit calls this when the component leaves the page, and also at once when new data arrives
  // while this draw is still starting: only a div that has left the document may be purged.
  return () => {
    if (plot.isConnected) return;
    plot.qeObserver?.disconnect();
    if (window.Plotly) window.Plotly.purge(plot);
  };
}
