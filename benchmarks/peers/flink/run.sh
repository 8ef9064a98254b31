#!/usr/bin/env bash
# Builds the Flink bars peer once per source change (shaded jar cached under .cache/flink-peer/) and runs it.
# Usage: benchmarks/peers/flink/run.sh build            -> prints the jar path (no run)
#        benchmarks/peers/flink/run.sh [--brokers B --topic T --group G --parallelism N ...]   (see BarsJob)
# The run execs java, so a caller timing this script (/usr/bin/time) measures the JVM alone, not Maven.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CACHE_DIR=${MLFP_CACHE_DIR:-$ROOT/.cache}/flink-peer
HEAP=${MLFP_FLINK_HEAP:-1g}

for tool in mvn java sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || {
    printf 'flink peer: %s not found on PATH (needs Java 17+ and Maven)\n' "$tool" >&2
    exit 1
  }
done

source_hash=$(find "$HERE/pom.xml" "$HERE/src" -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
JAR=$CACHE_DIR/mlfp-flink-peer-$source_hash.jar

build() {
  [[ -f $JAR ]] && return 0
  printf 'flink peer: building %s with Maven (first build resolves Flink 2.2, ~100 MB)\n' "$JAR" >&2
  mkdir -p "$CACHE_DIR"
  # Debian's Maven prints colour resets even in batch quiet mode.
  mvn -B -q -Dstyle.color=never -f "$HERE/pom.xml" package "-Dpeer.build.directory=$CACHE_DIR/build" 2>&1 |
    sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
  find "$CACHE_DIR" -maxdepth 1 -name 'mlfp-flink-peer-*.jar' -delete
  cp "$CACHE_DIR/build/mlfp-flink-peer-1.jar" "$JAR.partial"
  mv "$JAR.partial" "$JAR"
}

if [[ ${1:-} == build ]]; then
  build
  printf '%s\n' "$JAR"
  exit 0
fi
build
# No -Xms: the peak RSS reported beside the engine's should be what the job uses, not a pre-sized heap.
exec java "-Xmx$HEAP" -XX:+UseG1GC -Djava.awt.headless=true -jar "$JAR" "$@"
