# Container image of bridgeway: a static binary on an empty base, run as a
# non-root user, no shell. Build: docker build -t bridgeway . (or podman).
#
# Stage 1 builds the binary the way scripts/release does. Its RUN steps use
# the exec form and take the version through GOFLAGS, so they need no shell
# either and any image with a Go toolchain in /usr/local/go works as GO_IMAGE.
ARG GO_IMAGE=golang:1.26-bookworm
FROM ${GO_IMAGE} AS build
ARG VERSION=dev
ARG COMMIT=dev
ARG BUILD_DATE=
ENV CGO_ENABLED=0 \
    GOFLAGS="-trimpath -buildvcs=false '-ldflags=-s -w -buildid= -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${BUILD_DATE}'"
WORKDIR /src
COPY go.mod go.sum ./
RUN ["go", "mod", "download"]
COPY . .
RUN ["go", "build", "-o", "/out/usr/bin/bridgeway", "./cmd/bridgeway"]
# The state folder (ACME certificates), owned by the runtime user below;
# the check runs in it so every builder creates it.
WORKDIR /out/var/lib/bridgeway
RUN ["/out/usr/bin/bridgeway", "validate", "-c", "/src/packaging/bridgeway.yaml"]

# Stage 2: only the binary, CA certificates (for https/wss upstreams and
# ACME), the user, the default config and the schema.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY packaging/container/passwd packaging/container/group /etc/
COPY --from=build /out/usr/bin/bridgeway /usr/bin/bridgeway
COPY packaging/bridgeway.yaml /etc/bridgeway/bridgeway.yaml
COPY config/bridgeway.schema.json /usr/share/bridgeway/bridgeway.schema.json
COPY --from=build --chown=65532:65532 /out/var/lib/bridgeway /var/lib/bridgeway
WORKDIR /var/lib/bridgeway
USER 65532:65532
# The packaged config reads its addresses from these. The admin listener
# (/healthz, /readyz, /metrics) must be reachable from outside the
# container for orchestrator probes: publish 9090 only on a private network.
ENV BRIDGEWAY_LISTEN=:8080 \
    BRIDGEWAY_ADMIN_LISTEN=:9090
EXPOSE 8080 8443 9090
HEALTHCHECK --interval=30s --timeout=10s --retries=3 CMD ["/usr/bin/bridgeway", "health", "-url", "http://127.0.0.1:9090/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/bridgeway"]
CMD ["run", "-c", "/etc/bridgeway/bridgeway.yaml"]
