# First version: one image for the code location, webserver, daemon and run tasks.
# Everything is installed at build time from the locked constraints; nothing is bootstrapped at run time
# (the lesson of the original deployment guide).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    OPS_ENV=aws

WORKDIR /opt/ops
COPY pyproject.toml constraints.txt README.md ./
COPY ops_assets ./ops_assets
COPY resources ./resources
# constraints.txt pins torch's CPU build (torch==2.13.0+cpu), which lives on PyTorch's CPU index, not PyPI.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -c constraints.txt . \
 && mkdir -p "$DAGSTER_HOME"
# FinBERT baked into the image: runs load it from disk and never reach the hub (HF_HUB_OFFLINE). Pin
# SENTIMENT_MODEL_REVISION to a commit hash for reproducible weights. The bake checks the labels and
# classifies a probe headline from the written copy before the layer is committed.
ARG SENTIMENT_MODEL=ProsusAI/finbert
ARG SENTIMENT_MODEL_REVISION=main
RUN python -m resources.bake_sentiment_model "$SENTIMENT_MODEL" /opt/models/sentiment \
      --revision "$SENTIMENT_MODEL_REVISION" \
 && rm -rf /root/.cache/huggingface
ENV OPS_SENTIMENT_MODEL=/opt/models/sentiment \
    OPS_SENTIMENT_BACKEND=transformers \
    HF_HUB_OFFLINE=1
COPY infra/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
COPY workspace.yaml ./

EXPOSE 4000 3000
# The code-location server; the webserver and daemon tasks override the command.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "ops_assets.definitions"]
