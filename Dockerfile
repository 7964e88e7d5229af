# pullmesh proxy as a container image.
#
#   docker build -t pullmesh .
#   docker run -d --name pullmesh -p 9200:9200 -p 9201:9201 -v pullmesh-data:/var/lib/pullmesh pullmesh
#
# or `docker compose up -d` (compose.yaml: pullmesh with Prometheus and Grafana). Options are PULLMESH_* environment
# variables (`docker run --rm pullmesh --help` lists them) or arguments after the image name. docs/operations.md,
# "Running it", has the details. Written for the classic builder as well as BuildKit (no RUN --mount), so that
# Testcontainers (ContainerImageTest) builds it the same way.

ARG BUILD_IMAGE=maven:3.9.9-eclipse-temurin-17
ARG RUNTIME_IMAGE=eclipse-temurin:17.0.13_11-jre-noble

# ---- build: the shaded jar ------------------------------------------------------------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# The local repository is /m2, not /root/.m2, which some Maven images declare a VOLUME (changes there are lost).

# 1. The POMs alone, built as an empty reactor: this resolves every dependency and plugin the real build uses into
#    /m2, in a layer that is rebuilt only when a POM changes. (Not `dependency:go-offline`: it also resolves
#    artifacts the build never uses and fails on ones a mirror lacks.) The reactor needs every module's POM, even
#    those not built here.
COPY pom.xml ./
COPY modules/core/pom.xml modules/core/
COPY modules/metrics/pom.xml modules/metrics/
COPY modules/store/pom.xml modules/store/
COPY modules/tls/pom.xml modules/tls/
COPY modules/testkit/pom.xml modules/testkit/
COPY modules/fetch/pom.xml modules/fetch/
COPY modules/mesh/pom.xml modules/mesh/
COPY proxy/pom.xml proxy/
COPY seeder/pom.xml seeder/
COPY loadtest/pom.xml loadtest/
RUN mvn -B -q -Dmaven.repo.local=/m2 -pl proxy -am -DskipTests package \
 && find . -name target -type d -prune -exec rm -rf {} +

# 2. The sources, built offline from that layer.
COPY modules/ modules/
COPY proxy/ proxy/
RUN mvn -B -q -o -Dmaven.repo.local=/m2 -pl proxy -am -DskipTests package \
 && ls -l proxy/target/pullmesh-proxy.jar

# ---- runtime: a JRE, the jar, a non-root user ---------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
COPY deploy/docker/healthcheck /opt/pullmesh/healthcheck
# The base image has curl (the HEALTHCHECK uses it); install it only if a different base lacks it.
RUN chmod 0755 /opt/pullmesh/healthcheck \
 && if ! command -v curl >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --system --gid 10001 pullmesh \
 && useradd --system --uid 10001 --gid pullmesh --home-dir /var/lib/pullmesh --no-create-home \
      --shell /usr/sbin/nologin pullmesh \
 && mkdir -p /var/lib/pullmesh/cache /var/lib/pullmesh/ca \
 && chown -R pullmesh:pullmesh /var/lib/pullmesh

COPY --from=build /src/proxy/target/pullmesh-proxy.jar /opt/pullmesh/pullmesh-proxy.jar

# Everything pullmesh keeps is under /var/lib/pullmesh: the cache (blobs, RocksDB index) and its CA, which clients
# that pull through HTTPS_PROXY trust, so it must outlive the container. Mount a volume there.
ENV PULLMESH_LISTEN=0.0.0.0:9200 \
    PULLMESH_CACHE_DIR=/var/lib/pullmesh/cache \
    PULLMESH_CA_DIR=/var/lib/pullmesh/ca
VOLUME ["/var/lib/pullmesh"]

# 9200: registry API, /healthz, /metrics, /admin/v1/, the mesh's peer data plane; 9201: the --transfer-port that
# Ollama's x/transfer downloader is redirected to (publish it beside 9200, on the same host port + 1);
# 5701: the mesh's cluster engine (Hazelcast), only with --mesh-name.
EXPOSE 9200 9201 5701

USER 10001:10001
WORKDIR /var/lib/pullmesh

# /healthz answers 200 "ok" once the proxy serves; the script asks the port PULLMESH_LISTEN names.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["/opt/pullmesh/healthcheck"]

# At most two glibc malloc arenas: with one per thread and core, native allocations (RocksDB, the JVM's own) spread over
# many partly used arenas; 2 took 25-30 MiB off a busy node's peak RSS (docs/operations.md, "Memory").
ENV MALLOC_ARENA_MAX=2

# JVM flags: JAVA_TOOL_OPTIONS (e.g. -XX:MaxRAMPercentage=50). Arguments after the image name go to pullmesh:
# `docker run --rm pullmesh --help`, `docker exec pullmesh java -jar /opt/pullmesh/pullmesh-proxy.jar admin stats`.
ENTRYPOINT ["java", "-XX:+ExitOnOutOfMemoryError", "-jar", "/opt/pullmesh/pullmesh-proxy.jar"]
