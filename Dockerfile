# One image for the code-location server, the webserver, the daemon and the run tasks (the ECS services override
# the command). Everything is installed at build time from the locked constraints; nothing is bootstrapped at run
# time (the lesson of the original deployment guide). Two stages: the builder has the compilers, pip's caches and
# the Hugging Face download; the runtime stage gets only the finished virtualenv and the baked model.
#
# Build arguments (all have pinned defaults; override them to move a pin, never to float it):
#   PYTHON_IMAGE              the base image, by digest. The default digest is python:3.11-slim-bookworm as
#                             recorded (and checked against Docker Hub) on 2026-08-24 in a public repository; it could
#                             not be checked from this project's build machine (no registry access). Before the first
#                             build, and to take a newer Python patch or Debian security fixes, run
#                               docker buildx imagetools inspect python:3.11-slim-bookworm
#                             and put the printed index digest here (or pass --build-arg PYTHON_IMAGE=...@sha256:...).
#   SENTIMENT_MODEL           the Hugging Face model baked into the image (FinBERT).
#   SENTIMENT_MODEL_REVISION  the model repository's commit, so that the weights are reproducible. The default is
#                             the ProsusAI/finbert commit of June 2023 (huggingface.co/ProsusAI/finbert/commits);
#                             the build fails if the hub does not have it.
#   POSTGRES_CLIENT_MAJOR     pg_dump/psql major version for the backups; must match RDS (PostgreSQL 15).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_IMAGE} AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH

# Compilers for any sdist without a wheel; they stay in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY ops_assets ./ops_assets
COPY resources ./resources
# The locked versions only: every package pip resolves is pinned by constraints.txt (a test resolves this same
# command into a fresh virtualenv and compares every version with the lock). torch==2.13.0+cpu lives on PyTorch's
# CPU index, not PyPI.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -c constraints.txt .

# FinBERT baked into the image: runs load it from disk and never reach the hub (HF_HUB_OFFLINE). The bake checks
# the labels and classifies a probe headline from the written copy before the layer is committed.
ARG SENTIMENT_MODEL=ProsusAI/finbert
ARG SENTIMENT_MODEL_REVISION=db38d3727cbaed87c9aed72df7b3519e2ba5cca1
RUN python -m resources.bake_sentiment_model "$SENTIMENT_MODEL" /opt/models/sentiment \
      --revision "$SENTIMENT_MODEL_REVISION"


FROM ${PYTHON_IMAGE} AS runtime

ARG POSTGRES_CLIENT_MAJOR=15
# pg_dump/pg_restore/psql for the PostgreSQL backups (Debian bookworm ships the 15 client, as RDS runs 15). The
# major version is pinned by the package name; the minor follows Debian's security updates, which remove older
# builds from the mirror (so an exact pin would break the build, not make it reproducible).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${POSTGRES_CLIENT_MAJOR}" \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 dagster \
 && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster --shell /usr/sbin/nologin dagster

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    OPS_ENV=aws \
    OPS_SENTIMENT_MODEL=/opt/models/sentiment \
    OPS_SENTIMENT_BACKEND=transformers \
    HF_HUB_OFFLINE=1

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/models/sentiment /opt/models/sentiment
WORKDIR /opt/ops
COPY workspace.yaml ./
# The production workspace (the code-location service over gRPC) and the long-running services' entry points
# (scripts/desk_service.py, scripts/serve_forecasts.py).
COPY infra/workspace.yaml ./infra/workspace.yaml
COPY scripts ./scripts
COPY infra/dagster.yaml /opt/dagster/home/dagster.yaml
# DAGSTER_HOME is the only place the processes write (local artifact storage, compute-log staging); the code and the
# model stay root-owned and read-only for the service user.
RUN chown -R dagster:dagster /opt/dagster
USER 10001:10001

EXPOSE 4000 3000
# For `docker run` and compose: ECS ignores an image's HEALTHCHECK, so the task definitions repeat it (and give the
# webserver and the daemon their own; see docs/ARCHITECTURE.md, "Run routing").
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
  CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
# The code-location server; the webserver, daemon and run tasks override the command.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "ops_assets.definitions"]
