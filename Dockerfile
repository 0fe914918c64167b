# syntax=docker/dockerfile:1
#
# Kitsune's image: one image for every role. The command is the role:
#   docker run kitsune api | db-worker | log-worker | start | migrate | dlq ... | commands ...
# CI cannot run Docker, so test/deploy/image.test.ts replays the `build` stage's steps in a
# throw-away folder, assembles the `runtime` stage's files the way its COPY lines say, and starts
# the roles from that tree with this file's ENTRYPOINT, ENV and HEALTHCHECK: what is written here
# is what CI runs. Choices and sizes: docs/deploy.md and docs/decisions/0020-deployment.md.

# Node 24 LTS on Debian 12 (glibc: the embedded PostgreSQL of `kitsune start` is a glibc build).
# Override with --build-arg NODE_IMAGE=node:24.x.y-bookworm-slim@sha256:... to pin a digest.
ARG NODE_IMAGE=node:24-bookworm-slim

# The OS layer. tini is PID 1: Node as PID 1 ignores SIGTERM until Kitsune has installed its own
# handler (so a container stopped while it waits for Kafka at start-up would wait for SIGKILL),
# and reaps no orphaned processes. /var/lib/kitsune is where `kitsune start` keeps its embedded
# PostgreSQL; nothing else writes to the file system.
FROM ${NODE_IMAGE} AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/kitsune \
 && chown node:node /var/lib/kitsune

# Install every dependency (the lock file alone decides this layer, so it is cached until the lock
# file changes), compile src/ to dist/ and the console (console/, Vite) to dist/console, then drop
# the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY src ./src
COPY console ./console
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

# What runs: the compiled build, production dependencies, the example registry and migrations
# (replace them by mounting your own: KITSUNE_REGISTRY, KITSUNE_MIGRATIONS_DIR). Files belong to
# root and are read-only to the `node` user that Kitsune runs as, named by its uid so that
# Kubernetes' runAsNonRoot can verify it.
FROM base AS runtime
WORKDIR /app
ENV KITSUNE_HTTP_HOST=0.0.0.0 \
    KITSUNE_DATA_DIR=/var/lib/kitsune
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY commands ./commands
COPY migrations ./migrations
COPY deploy/docker/healthcheck.js ./deploy/docker/healthcheck.js
USER 1000:1000
# 8080: the API (HTTP_PORT); 9464 and 9465: /metrics and /healthz of the DB and log workers.
EXPOSE 8080 9464 9465
# GET /healthz on whichever of those ports this container's role serves.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.js"]
ENTRYPOINT ["tini", "--", "node", "dist/cli/index.js"]
CMD ["api"]
