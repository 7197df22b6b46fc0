#!/usr/bin/env bash
# Build the runner image and push it into the dev cluster's registry.
#   runner/build.sh                       # docker build + push (k3d registry)
#   BUILDER=buildctl runner/build.sh      # with a BuildKit daemon (BUILDKIT_HOST)
#   IMAGE=ghcr.io/acme/apphub-runner:2.334.0 runner/build.sh
set -euo pipefail
cd "$(dirname "$0")"
version=$(sed -n 's/^ARG RUNNER_VERSION=//p' Dockerfile)
image=${IMAGE:-apphub-registry.localhost:5050/apphub-runner:${version}}
case "${BUILDER:-docker}" in
  docker)
    command -v docker >/dev/null || { echo "docker is not installed; use BUILDER=buildctl" >&2; exit 127; }
    docker build -t "$image" .
    docker push "$image"
    ;;
  buildctl)
    command -v buildctl >/dev/null || { echo "buildctl is not installed" >&2; exit 127; }
    # registry.insecure: the k3d registry speaks plain HTTP.
    buildctl build --frontend dockerfile.v0 --local context=. --local dockerfile=. \
      --output "type=image,name=${image},push=true,registry.insecure=true"
    ;;
  *) echo "BUILDER must be docker or buildctl" >&2; exit 2 ;;
esac
echo "pushed ${image}"
echo "pods pull it as ${image/apphub-registry.localhost:5050/apphub-registry:5000}; set it with:"
echo "  pulumi config set arcRunnerImage ${image/apphub-registry.localhost:5050/apphub-registry:5000}"
