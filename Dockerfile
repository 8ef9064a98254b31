# The engine image for docker-compose.yml: build with the dev toolchain, ship dist/ and production modules only.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the root `prepare` script builds, which needs the sources copied below; no runtime
# dependency needs an install script (onnxruntime-node ships its CPU binaries; the GPU TensorFlow binding
# is optional and not wanted in this image).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY benchmarks ./benchmarks
COPY bin ./bin
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY models ./models
USER node
EXPOSE 9464
ENTRYPOINT ["node", "bin/mlfp.js"]
CMD ["run", "--config", "/config/engine.json"]
