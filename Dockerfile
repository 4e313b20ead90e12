# orc in a container: `orc watch` over manifests mounted (or synced by a git-sync sidecar) at
# /manifests, status and metrics on :9464. See docs/deploy.md.
#
#   docker build -t orc .
#   docker run --rm -v "$PWD/manifests:/manifests:ro" -e ORC_WEBHOOK_TOKEN=... -p 9464:9464 orc

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
COPY schemas ./schemas
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
LABEL org.opencontainers.image.title="ollama-reconciler" \
      org.opencontainers.image.description="GitOps reconciler for fleets of Ollama servers" \
      org.opencontainers.image.licenses="MIT"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ORC_STATE_DIR=/var/lib/orc \
    ORC_LOCK_DIR=/var/lib/orc/locks \
    NO_COLOR=1
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 orc \
    && useradd --system --uid 10001 --gid orc --home-dir /var/lib/orc --shell /usr/sbin/nologin orc \
    && mkdir -p /var/lib/orc/locks /manifests \
    && chown -R orc:orc /var/lib/orc
USER 10001:10001
WORKDIR /var/lib/orc
VOLUME ["/var/lib/orc"]
EXPOSE 9464
# /healthz is 200 while the reconcile loop is alive (a long pull counts as alive).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["orc"]
CMD ["watch", "/manifests", "--mode", "apply", "--listen", "0.0.0.0:9464", "--log-format", "json"]
