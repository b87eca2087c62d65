# One image for every Zhongshu OMS service; each Kubernetes Deployment chooses the command
# (`python -m services.<name> serve|migrate`, or `nameko run ...` for notify-worker).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app:/app/build/gen

# make runs the protos target; uid/gid 10001 match runAsUser/runAsGroup in k8s/base.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 oms \
 && useradd --system --uid 10001 --gid oms --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin oms

WORKDIR /app
COPY . .

# Pinned dependencies from pyproject.toml, then the generated gRPC code in build/gen.
# The image uses the system interpreter: `-o .venv/.installed` stops make from building its own
# virtualenv, BIN points its python at /usr/local/bin. The code stays owned by root (read-only).
RUN pip install . \
 && make -o .venv/.installed protos BIN=/usr/local/bin \
 && rm -rf build/lib build/bdist.* build/protoinclude ./*.egg-info \
 && python -m compileall -q /app/services /app/build/gen

USER 10001:10001
EXPOSE 50051 9464
