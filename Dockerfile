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
RUN pip install --no-cache-dir -c constraints.txt . \
 && mkdir -p "$DAGSTER_HOME"
COPY infra/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
COPY workspace.yaml ./

EXPOSE 4000 3000
# The code-location server; the webserver and daemon tasks override the command.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "ops_assets.definitions"]
