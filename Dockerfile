# moodlog image: the API and the web UI it serves.
#
#   docker build -t moodlog .
#   docker run -p 3000:3000 -v moodlog-data:/data moodlog                  # embedded PostgreSQL in /data
#   docker run -p 3000:3000 -e DATABASE_URL=... -e JWT_SECRET=... moodlog  # PostgreSQL server
#
# docker-compose.yml runs two instances behind nginx with PostgreSQL and Redis.

# ---- build: compile the server to dist/ and the web UI to dist/web -----------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app

# Manifests first so the dependency layer is reused while only the sources change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The UI's sources (Vite config, Preact screens, the generated API client); `npm run build`
# runs tsc, then Vite into dist/web.
COPY web ./web
RUN npm run build

# ---- runtime: production dependencies, compiled code, SQL migrations, data files ----------
# Same base as the build stage: the prebuilt native binaries that npm picks for
# @node-rs/argon2 (linux-x64-gnu / linux-arm64-gnu) need glibc, which the slim Debian image has.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app

# A fresh production-only install rather than copying the build stage's node_modules:
# no compiler, linter or test runner ends up in the image.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# dist/web is the built UI (index.html + hashed assets), served at / by the server itself.
COPY --from=build /app/dist ./dist
# The code finds these as ../../migrations and ../../assets from dist/<area>/<file>.js,
# so they sit beside dist/ at the app root.
COPY migrations ./migrations
COPY assets ./assets

# Everything above stays owned by root (read-only to the app); the only writable place is
# /data, the embedded database and its generated JWT secret (unused when DATABASE_URL is set).
# It is created here owned by node so a fresh named volume inherits that owner; a bind mount
# keeps the host directory's owner, which must then be writable by uid 1000.
RUN mkdir -p /data && chown node:node /data
VOLUME /data

# HOST=0.0.0.0: the app's default (127.0.0.1) would be unreachable from outside the container.
ENV HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
USER node
EXPOSE 3000

# The server drains in-flight requests on SIGTERM within SHUTDOWN_TIMEOUT_SECONDS (default
# 10 s, the same as `docker stop`'s default grace period: give it a few more seconds, e.g.
# `docker stop -t 15` or compose's stop_grace_period).
STOPSIGNAL SIGTERM

# Liveness only (is the process answering?); /readyz also checks the database and Redis.
# Node itself does the request: the slim image has neither curl nor wget.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Exec form, so node receives SIGTERM directly. Node as PID 1 is fine here because the
# server installs its own SIGTERM/SIGINT handlers and spawns no children; to have an init
# reap zombies and forward signals anyway, run with `docker run --init` (compose: `init: true`).
CMD ["node", "dist/server.js"]
