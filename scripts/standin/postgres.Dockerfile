# CI's stand-in for the official postgres image (no registry is reachable from CI; see
# scripts/ci-docker.sh): Debian's PostgreSQL 15 on the Python stand-in base, with the
# parts of the official image's interface that docker-compose.scale.yml uses:
# POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB, the data in
# /var/lib/postgresql/data, password logins over TCP, and pg_isready on the PATH.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

# No cluster from the package itself: the entrypoint makes one on the volume.
RUN mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \
 && printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data

COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
