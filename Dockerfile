# syntax=docker/dockerfile:1.7
#
# The image of `apphubctl serve`, the catalog's HTTP API that the platform
# deploys in Kubernetes (components/api_service*.go): apphubctl, the pinned
# Pulumi CLI and the provider plugins baked into /opt/pulumi-home, so the
# service never downloads an engine or a plugin at run time.
#
# Build it from the repository root and push it:
#
#   docker build -t <registry>/apphubctl:<tag> .
#   docker push <registry>/apphubctl:<tag>
#
# then name the pushed image in the platform stack's `serviceImage` config
# (pulumi config set serviceImage <registry>/apphubctl:<tag>).
#
# The pins below are checked against the repository by
# cmd/apphubctl/dockerfile_test.go (go test ./cmd/apphubctl/): the Pulumi
# version against the Makefile and tools/go.mod, the plugin versions against
# automation.DefaultPlugins, the Go image against go.mod.

# --- The Pulumi CLI and the provider plugins ---------------------------------
FROM golang:1.26-bookworm AS pulumi

# The Makefile's PULUMI_VERSION: the version ldflag lets the Automation API
# read the CLI's version.
ARG PULUMI_VERSION=v3.246.0
# automation.DefaultPlugins.
ARG KUBERNETES_PLUGIN_VERSION=v4.33.0
ARG RANDOM_PLUGIN_VERSION=v4.18.0
ARG COMMAND_PLUGIN_VERSION=v1.2.1

WORKDIR /src/tools
# Only the tools module's pins: a change elsewhere in the repository does not
# rebuild the CLI.
COPY tools/go.mod tools/go.sum ./
# Built as the Makefile's $(PULUMI) target builds it.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -o /out/pulumi \
      -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_VERSION}" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

# The plugins, installed by the CLI just built. The check afterwards is the
# one automation.Manager makes (a complete plugin directory with an
# executable provider), so a half-finished download fails the build instead
# of the first operation.
ENV PULUMI_HOME=/opt/pulumi-home PULUMI_SKIP_UPDATE_CHECK=true
RUN set -eu; \
    /out/pulumi plugin install resource kubernetes ${KUBERNETES_PLUGIN_VERSION}; \
    /out/pulumi plugin install resource random ${RANDOM_PLUGIN_VERSION}; \
    /out/pulumi plugin install resource command ${COMMAND_PLUGIN_VERSION}; \
    for p in kubernetes:${KUBERNETES_PLUGIN_VERSION} random:${RANDOM_PLUGIN_VERSION} command:${COMMAND_PLUGIN_VERSION}; do \
      dir="${PULUMI_HOME}/plugins/resource-${p%%:*}-${p#*:}"; \
      test -x "${dir}/pulumi-resource-${p%%:*}"; \
      test ! -e "${dir}.partial"; \
    done; \
    /out/pulumi version; \
    /out/pulumi plugin ls

# --- apphubctl ---------------------------------------------------------------
FROM golang:1.26-bookworm AS apphubctl

WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -o /out/apphubctl ./cmd/apphubctl

# --- Runtime -----------------------------------------------------------------
FROM debian:bookworm-slim

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="apphubctl" \
      org.opencontainers.image.description="apphubctl serve: the apphub catalog's HTTP API, with the pinned Pulumi CLI and provider plugins" \
      org.opencontainers.image.source="https://github.com/apphub/apphub-infra" \
      org.opencontainers.image.url="https://github.com/apphub/apphub-infra" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

# ca-certificates for the Kubernetes API, S3 backends, PostgreSQL over TLS
# and webhooks. Nothing else: programs run inline in apphubctl (no language
# host, no git), and coreutils' ln (the init container's
# `ln -sfn /opt/pulumi-home/plugins /var/lib/pulumi-home/plugins`) is
# already in the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The uid/gid the Deployment runs as (components.apiUID). /var/lib/apphub is
# the state directory and HOME; /var/lib/pulumi-home is where the Deployment
# mounts a writable PULUMI_HOME (both are volumes in the cluster, but exist
# so that `docker run` works too).
RUN groupadd --gid 65532 apphub \
 && useradd --uid 65532 --gid 65532 --home-dir /var/lib/apphub --no-create-home \
      --shell /usr/sbin/nologin apphub \
 && install -d -o 65532 -g 65532 -m 0750 /var/lib/apphub /var/lib/pulumi-home

COPY --from=pulumi /out/pulumi /usr/local/bin/pulumi
COPY --from=pulumi --chown=65532:65532 /opt/pulumi-home /opt/pulumi-home
COPY --from=apphubctl /out/apphubctl /usr/local/bin/apphubctl

USER 65532:65532
# The Deployment overrides PULUMI_HOME with the writable /var/lib/pulumi-home
# (its plugins a link to these); the image's own PULUMI_HOME serves plain
# `docker run`. Plugins are never downloaded at run time: what is not baked
# in is an error, not a surprise download.
ENV PULUMI_HOME=/opt/pulumi-home \
    PULUMI_SKIP_UPDATE_CHECK=true \
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
    HOME=/var/lib/apphub \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /var/lib/apphub
EXPOSE 8080
ENTRYPOINT ["apphubctl"]
CMD ["serve", "--addr", ":8080"]
