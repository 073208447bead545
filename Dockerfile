# syntax=docker/dockerfile:1
#
# auditshipper container image.
#
#   docker build -t auditshipper:dev .
#   docker run --rm --read-only --tmpfs /tmp -v auditshipper-data:/var/lib/auditshipper \
#     --stop-timeout 45 auditshipper:dev
#
# Two stages on the SAME Node LTS base: better-sqlite3 is a native addon, so the .node file
# built in the first stage must match the Node ABI and glibc of the image that loads it.
# Pin NODE_IMAGE by digest (node:22-bookworm-slim@sha256:...) for reproducible builds.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------------------------------
# build: compilers, all dependencies, TypeScript → dist/, then prune to production deps.
FROM ${NODE_IMAGE} AS build
# python3, make and g++ compile better-sqlite3 when no prebuilt binary fits this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Lockfile first: the dependency layer is rebuilt only when the lockfile changes.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY config ./config
# After the build only production dependencies stay; the addon's sources, object files and
# test extension are not needed to run (~25 MB).
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
           node_modules/better-sqlite3/build/deps node_modules/better-sqlite3/build/Release/obj \
           node_modules/better-sqlite3/build/Release/obj.target \
           node_modules/better-sqlite3/build/Release/sqlite3.a \
           node_modules/better-sqlite3/build/Release/test_extension.node

# ---------------------------------------------------------------------------------------
# runtime: no compilers, no npm; only dist, production node_modules, config, package.json.
FROM ${NODE_IMAGE} AS runtime
# A dedicated numeric user, so Kubernetes runAsNonRoot can verify it without runAsUser.
# npm, npx, corepack and yarn are removed: nothing runs them, and they only add size and CVEs.
RUN groupadd --system --gid 10001 auditshipper \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin auditshipper \
 && mkdir -p /var/lib/auditshipper /etc/auditshipper \
 && chown 10001:10001 /var/lib/auditshipper \
 && chmod 0750 /var/lib/auditshipper \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*

ENV NODE_ENV=production \
    AUDITSHIPPER_CONFIG=/etc/auditshipper/auditshipper.yaml

WORKDIR /opt/auditshipper
# Owned by root and not writable by the agent: the application cannot modify itself.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/config ./config
# The config used when none is mounted: the demo source to stdout, buffer in the volume.
# Mount yours over /etc/auditshipper/auditshipper.yaml (or set AUDITSHIPPER_CONFIG).
COPY deploy/docker/auditshipper.yaml /etc/auditshipper/auditshipper.yaml

USER 10001:10001

# The SQLite buffer (buffer.db + WAL). The agent writes nowhere else except SQLite's
# temporary files under /tmp, so `--read-only --tmpfs /tmp` (or Kubernetes
# readOnlyRootFilesystem with an emptyDir on /tmp) works.
VOLUME ["/var/lib/auditshipper"]

# GET /metrics, /healthz, /readyz: the config must listen on 0.0.0.0:9880 for these to be
# reachable from outside the container (deploy/docker/auditshipper.yaml does).
EXPOSE 9880

# No curl in slim images: node itself probes /healthz (Node 20+ has fetch). Override the
# URL with AUDITSHIPPER_HEALTHCHECK_URL when api.listen uses another port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.AUDITSHIPPER_HEALTHCHECK_URL||'http://127.0.0.1:9880/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Node is PID 1 (exec form, no shell, no tini): the agent installs its own SIGTERM, SIGINT
# and SIGHUP handlers, so the kernel's PID-1 rule (signals without a handler are ignored)
# does not apply, and it starts no child processes, so there are no zombies to reap.
# SIGTERM drains for up to shutdown_timeout (default 30s): give `docker stop` more time
# than that (--stop-timeout 45, compose stop_grace_period: 45s); Docker's default is 10s.
STOPSIGNAL SIGTERM
# A bounded V8 heap keeps RSS near its working set (V8 otherwise lets garbage pile up to
# well over 100 MiB under load); the live heap is tens of MiB. Raise the old space for
# sinks with large batches and high request.concurrency (README: Memory and threads).
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=8"
ENTRYPOINT ["node", "/opt/auditshipper/dist/cli/main.js"]
CMD ["run"]
