# syntax=docker/dockerfile:1
# One image for both services; the command picks which one runs.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gen gen
COPY services services
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY config/config.schema.json config/
# The blob cache and the file spec store live here; mount a volume.
RUN mkdir -p /var/lib/registry-facade && chown node:node /var/lib/registry-facade
USER node
EXPOSE 32223 32224 9500 8086
ENTRYPOINT ["node", "--enable-source-maps"]
CMD ["dist/services/registry/bin.js", "--config", "/etc/registry-facade/config.json"]
