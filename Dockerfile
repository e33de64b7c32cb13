# syntax=docker/dockerfile:1
#
# monero_exporter as a small container image: a static binary (CGO_ENABLED=0),
# built by the same `make build` that CI runs, on a distroless base, as a
# non-root user.
#
#   docker build -t monero_exporter --build-arg REVISION=$(git rev-parse --short HEAD) .
#   docker run -p 18091:18091 -e MONEROD_RPC_URL=http://monerod:18081 monero_exporter
#
# It takes the same flags (as arguments) and environment variables
# (MONEROD_RPC_URL, MONEROD_RPC_USER, MONEROD_RPC_PASSWORD, HEALTH_*...) as
# the binary; see monero_exporter --help. It also reads the environment of
# the monero_health_check image it replaces (MONEROD_URL, MONEROD_P2P_PORT,
# CONSIDER_P2P_STATUS, OFFSET, OFFSET_UNIT, HTTP_TIMEOUT, PORT): see
# docs/migrating.md.

FROM golang:1.26 AS build
# The toolchain without the standard-library vulnerabilities of 1.26.8, as
# the Makefile pins it; the go command fetches it from the module proxy.
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
# Modules first: a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build context has no .git: pass what `git` would have told make.
ARG REVISION=unknown
ARG BRANCH=unknown
RUN make build REVISION="$REVISION" BRANCH="$BRANCH" \
 && ./monero_exporter --version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/monero_exporter /bin/monero_exporter
# distroless's "nonroot" user, by number so that Kubernetes' runAsNonRoot
# can verify it.
USER 65532:65532
EXPOSE 18091
ENTRYPOINT ["/bin/monero_exporter"]
