#!/usr/bin/env bash
# The manifest storm's reference: ManifestStormSimulation's load (same Gatling JVM, same rate and connections) against
# nginx answering every manifest GET with one static file. What Gatling measures for nginx is the floor this machine and
# load generator put under any server's latency; docs/benchmarks.md ("Manifest storm") sets pullmesh's numbers beside it.
#
#   loadtest/storm-nginx.sh [-Drate=300 -Dseconds=20 ...]     (the simulation's own properties; run from the repository root)
#
# nginx usually lives in /usr/sbin. It runs with one worker on an ephemeral loopback port, from a temporary directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
command -v nginx >/dev/null || { echo "storm-nginx.sh: nginx is not installed (apt-get install nginx)" >&2; exit 1; }

work="$(mktemp -d /tmp/pullmesh-storm-nginx.XXXXXX)"
chmod 755 "$work" # nginx's worker (www-data) reads the files
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$work/root/v2/library/reference/manifests" "$work/logs"
# a manifest as the simulation's checks want it (200, a Docker-Content-Digest header); no layers: nothing to pull
cat > "$work/root/v2/library/reference/manifests/latest" <<'JSON'
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2},"layers":[]}
JSON
# the simulation's last step reads pullmesh's upstream manifest counter: nginx has no upstream, so 0
printf 'pullmesh_upstream_requests_total{kind="manifest",status="200"} 0\n' > "$work/root/metrics"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port;
    root $work/root;
    location /v2/ {
      default_type application/vnd.docker.distribution.manifest.v2+json;
      add_header Docker-Content-Digest "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    }
    location = /metrics { default_type text/plain; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" &
ngx=$!
trap 'kill "$ngx" 2>/dev/null || true; wait "$ngx" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break
  sleep 0.1
done
# shellcheck disable=SC2086
mvn -B -q -Dstyle.color=never ${BENCH_MVN_ARGS:-} -pl loadtest -Pload -DskipTests verify \
  -Dgatling.simulationClass=io.pullmesh.loadtest.gatling.ManifestStormSimulation \
  -Dtarget="http://127.0.0.1:$port" -Dmodels=library/reference:latest "$@"
