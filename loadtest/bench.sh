#!/usr/bin/env bash
# Builds what the pull benchmark needs and runs it: see loadtest/README.md.
#
#   loadtest/bench.sh [--size 256MiB] [--rate 4MiB] [--connections 16] [--reps 1] [--clients 16] ... | --help
#   loadtest/bench.sh --memory-curve [--jars old=OLD.jar,new=proxy/target/pullmesh-proxy.jar] [--ks 1,4,16,64] ...
#
# Environment: BENCH_SKIP_BUILD=1 reuses the last build; BENCH_MVN_ARGS adds Maven arguments (e.g. -o);
# BENCH_JAVA_OPTS replaces the benchmark JVM's options (default -Xmx2g).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
  # -am: the sibling modules come from this checkout (never from ~/.m2); the loadtest module depends on the
  # proxy only to have proxy/target/pullmesh-proxy.jar built, and writes its runtime classpath to a file.
  # shellcheck disable=SC2086
  mvn -B -q -Dstyle.color=never -DskipTests ${BENCH_MVN_ARGS:-} package -pl loadtest -am
fi

jar="loadtest/target/pullmesh-loadtest-0.1.0-SNAPSHOT.jar"
for f in "$jar" loadtest/target/classpath.txt proxy/target/pullmesh-proxy.jar; do
  if [[ ! -f "$f" ]]; then
    echo "bench.sh: $f is missing; run without BENCH_SKIP_BUILD" >&2
    exit 1
  fi
done

# nginx usually lives in /usr/sbin, which is not on every user's PATH
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

main=io.pullmesh.loadtest.PullBenchmark
if [[ "${1:-}" == "--memory-curve" ]]; then
  # the memory-versus-downloads curve (loadtest/README.md, "Memory curve"): its own main and options
  main=io.pullmesh.loadtest.MemoryCurve
  shift
fi

# shellcheck disable=SC2086
exec java ${BENCH_JAVA_OPTS:--Xmx2g} \
  -cp "$jar:$(cat loadtest/target/classpath.txt)" \
  -Dpullmesh.repo.root="$root" \
  "$main" "$@"
