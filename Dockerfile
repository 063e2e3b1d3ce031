# syntax=docker/dockerfile:1
# Boreas in a minimal image: the binary built by `deno compile`, on distroless, as non-root.

# --- build: compile the server into one executable --------------------------------------------
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src/ ./src/
COPY client/ ./client/
RUN deno compile --exclude-unused-npm --allow-net --allow-read --allow-write --allow-env='BOREAS_*' --unstable-net \
      --output /out/boreas main.ts \
 && /out/boreas --version \
 && mkdir -p /out/data

# --- runtime: only the binary -----------------------------------------------------------------
# distroless/cc has the C runtime the Deno binary links against, and no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/boreas /usr/local/bin/boreas
# A directory the non-root user owns, for --token-store (mount a volume here).
COPY --from=build --chown=65532:65532 /out/data /data

# Container defaults: listen on every interface, no debug routes, JSON log lines on stdout.
ENV BOREAS_API_HOST=0.0.0.0 \
    BOREAS_WS_HOST=0.0.0.0 \
    BOREAS_DEBUG=false \
    BOREAS_LOG_FORMAT=json \
    BOREAS_LOG_OUTPUT=stdout
EXPOSE 8001 8002
USER nonroot:nonroot
WORKDIR /home/nonroot

# No shell or curl in the image: the binary asks its own /health.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/boreas", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/boreas"]
