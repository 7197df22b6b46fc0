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
# Nothing is pinned here: the Pulumi CLI is the version tools/go.mod
# requires and each provider plugin the version go.mod requires of its SDK
# (`apphubctl plugins` lists them), so go.mod files are the one place a
# version is written.
#
# No `# syntax=` line: BuildKit's built-in Dockerfile frontend (BuildKit
# 0.10+, Docker 23+) has every feature used here (cache mounts), and a
# syntax image would be one more download an air-gapped builder cannot make.
#
# Offline (an air-gapped builder, or a cluster's own BuildKit): every input
# from the network is a build argument.
#   GO_IMAGE, RUNTIME_IMAGE   base images from a mirror (the runtime stage
#                             needs only /bin/sh and ln; it installs nothing)
#   GOPROXY, GOSUMDB          a module proxy (go.sum still checks every hash)
#   PULUMI_PLUGIN_SERVER      where `pulumi plugin install --server` fetches
#                             pulumi-resource-<name>-v<version>-linux-amd64.tar.gz

ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- The Pulumi CLI ------------------------------------------------------------
FROM ${GO_IMAGE} AS pulumi

ARG GOPROXY
ARG GOSUMDB
WORKDIR /src
# Only the tools module's pins: a change elsewhere in the repository does not
# rebuild the CLI. The version ldflag lets the Automation API read the CLI's
# version, as the Makefile's $(PULUMI) target sets it.
COPY tools/go.mod tools/go.sum tools/pin.sh tools/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    set -eu; \
    version=$(sh tools/pin.sh tools/go.mod github.com/pulumi/pulumi/pkg/v3); \
    cd tools && CGO_ENABLED=0 go build -trimpath -o /out/pulumi \
      -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

# --- apphubctl ---------------------------------------------------------------
FROM ${GO_IMAGE} AS apphubctl

ARG GOPROXY
ARG GOSUMDB
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -o /out/apphubctl ./cmd/apphubctl

# --- The provider plugins ----------------------------------------------------
# Installed by the CLI above, at the versions apphubctl was compiled against.
# The check afterwards is the one automation.Manager makes (a complete plugin
# directory with an executable provider), so a half-finished download fails
# the build instead of the first operation.
FROM pulumi AS plugins
ARG PULUMI_PLUGIN_SERVER
COPY --from=apphubctl /out/apphubctl /out/apphubctl
ENV PULUMI_HOME=/opt/pulumi-home PULUMI_SKIP_UPDATE_CHECK=true
RUN set -eu; \
    /out/apphubctl plugins > /tmp/plugins; \
    test -s /tmp/plugins; \
    while read -r name version; do \
      /out/pulumi plugin install resource "$name" "$version" \
        ${PULUMI_PLUGIN_SERVER:+--server "$PULUMI_PLUGIN_SERVER"}; \
      dir="${PULUMI_HOME}/plugins/resource-${name}-${version}"; \
      test -x "${dir}/pulumi-resource-${name}"; \
      test ! -e "${dir}.partial"; \
    done < /tmp/plugins; \
    /out/pulumi version; \
    /out/pulumi plugin ls

# --- Runtime -----------------------------------------------------------------
FROM ${RUNTIME_IMAGE}

ARG RUNTIME_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="apphubctl" \
      org.opencontainers.image.description="apphubctl serve: the apphub catalog's HTTP API, with the pinned Pulumi CLI and provider plugins" \
      org.opencontainers.image.source="https://github.com/apphub/apphub-infra" \
      org.opencontainers.image.url="https://github.com/apphub/apphub-infra" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

# The CA bundle (Kubernetes API, S3 backends, PostgreSQL over TLS, webhooks)
# comes from the Go stage's Debian, so this stage installs nothing and needs
# no package mirror. Programs run inline in apphubctl (no language host, no
# git); the init container's `ln -sfn /opt/pulumi-home/plugins
# /var/lib/pulumi-home/plugins` needs only the base image's ln.
COPY --from=apphubctl /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt

# The uid/gid the Deployment runs as (components.apiUID), written directly so
# that any base works (no useradd in busybox). /var/lib/apphub is the state
# directory and HOME; /var/lib/pulumi-home is where the Deployment mounts a
# writable PULUMI_HOME (both are volumes in the cluster, but exist so that
# `docker run` works too).
RUN set -eu; \
    echo 'apphub:x:65532:65532:apphub:/var/lib/apphub:/usr/sbin/nologin' >> /etc/passwd; \
    echo 'apphub:x:65532:' >> /etc/group; \
    mkdir -p /var/lib/apphub /var/lib/pulumi-home; \
    chown 65532:65532 /var/lib/apphub /var/lib/pulumi-home; \
    chmod 0750 /var/lib/apphub /var/lib/pulumi-home

COPY --from=pulumi /out/pulumi /usr/local/bin/pulumi
COPY --from=plugins --chown=65532:65532 /opt/pulumi-home /opt/pulumi-home
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
