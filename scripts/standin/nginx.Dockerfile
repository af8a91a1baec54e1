# CI's stand-in for the official nginx image (no registry is reachable from CI; see
# scripts/ci-docker.sh): Debian's nginx on the Python stand-in base. It runs what the
# official image runs, `nginx -g 'daemon off;'`, with the configuration that
# docker-compose.scale.yml mounts at /etc/nginx/nginx.conf; wget is there for the
# healthcheck, as busybox's is in nginx:alpine.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

# policy-rc.d: the package must not try to start a server during the build.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx wget >/dev/null \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/*

EXPOSE 9000
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
