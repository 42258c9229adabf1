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
  let plot = parentElement.querySelector("div.qe-plotly-chart");
  if (!plot) {
    plot = document.createElement("div");
    plot.className = "qe-plotly-chart";
    parentElement.appendChild(plot);
  }
  plot.dataset.expected = data.revision; // browser tests wait until drawn === expected
  const figure = JSON.parse(data.figure);
  loadPlotly(data.plotly_url).then((Plotly) => {
    if (!plot.isConnected) return; // a newer figure or a page change got here first
    const layout = themed(figure.layout || {}, plot, parentElement);
    Plotly.react(plot, figure.data || [], layout, { responsive: true, displaylogo: false, ...data.config });
    plot.dataset.drawn = data.revision;
  });
  // Streamlit calls this when the component leaves the page, and also at once when new data arrives
  // while this draw is still starting: only a div that has left the document may be purged.
  return () => {
    if (!plot.isConnected && window.Plotly) window.Plotly.purge(plot);
  };
}
