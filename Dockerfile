# The orchestrator in a container: `docker build -t peaqos-orchestrator .` then
# `docker run -p 8080:8080 -e PEAQOS_AGENT_PAIRING_SESSION_SECRET=... peaqos-orchestrator`.
# Build stage: install everything, compile dist/ (npm ci runs the build), then keep production dependencies only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY tsconfig.json tsconfig.build.json openapi.yaml openapi-ts.config.ts ./
COPY types ./types
COPY src ./src
COPY conformance ./conformance
COPY mocks ./mocks
COPY generated ./generated
COPY catalog ./catalog
RUN npm ci && npm prune --omit=dev

# Run stage: the same bin `npm start` runs, as an unprivileged user, with the store on a volume.
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 PEAQOS_DATABASE_URL=/data/orchestrator.sqlite
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/catalog ./catalog
COPY --from=build /app/openapi.yaml ./
COPY --from=build /app/mocks/mcr/openapi.yaml ./mocks/mcr/openapi.yaml
COPY bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=100", "--enable-source-maps", "bin/peaqos-orchestrator.js", "serve"]
