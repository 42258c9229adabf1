# Quantization Explorer: one Streamlit replica. Build and run (see the README's "Deploy" section):
#   docker build -t quantization-explorer .
#   docker run --rm -p 8501:8501 quantization-explorer
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The pinned requirements first, so a code change does not reinstall them. torch comes from its CPU
# index (the same 2.13.0, built without CUDA): the app never uses a GPU, and the CUDA build adds GBs.
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

# What the app needs to run, and nothing else: .dockerignore lists it (app.py, .streamlit, core,
# chapters, ui, models, assets). The trained weights are part of the image; nothing is downloaded at run time.
COPY . .
# plotly.js for the chart component, copied from the plotly package into static/ (ui/charts.py does it on
# import), while the app folder is still writable: the app user cannot write there.
RUN python -c "import ui.charts" && test -s static/plotly-*.min.js
RUN test -s models/autoencoder.safetensors \
    && useradd --create-home --uid 10001 app

# Streamlit reads these as its options (server.address and so on), over .streamlit/config.toml.
# 0.0.0.0: reachable from the balancer; no file watcher: the code in an image never changes.
ENV STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

USER app
EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"]
CMD ["streamlit", "run", "serve.py"]
