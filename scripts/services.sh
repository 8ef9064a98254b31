#!/usr/bin/env bash
# Local services for integration tests and benchmarks: an Apache Kafka broker (KRaft, jars from Maven Central),
# an Apicurio schema registry (Confluent-compatible API), a Keycloak identity provider (the realm in
# config/keycloak/), and the machine's own PostgreSQL and Redis.
# Usage: scripts/services.sh up|down|status|env [kafka|registry|keycloak|postgres|redis|all]   (see scripts/README.md)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${MLFP_SERVICES_DIR:-$ROOT/.services}
CACHE_DIR=${MLFP_CACHE_DIR:-$ROOT/.cache}
READY_TIMEOUT_S=${MLFP_SERVICES_TIMEOUT_S:-90}
# Pinned so resolution does not depend on the Maven release's bundled default (2.8 on Maven 3.8).
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

KAFKA_VERSION=${MLFP_KAFKA_VERSION:-3.9.2}
KAFKA_PORT=${MLFP_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${MLFP_KAFKA_CONTROLLER_PORT:-19093}
KAFKA_HEAP=${MLFP_KAFKA_HEAP:-256m}
REGISTRY_VERSION=${MLFP_REGISTRY_VERSION:-2.6.13.Final}
REGISTRY_PORT=${MLFP_REGISTRY_PORT:-18081}
REGISTRY_HEAP=${MLFP_REGISTRY_HEAP:-384m}
KEYCLOAK_VERSION=${MLFP_KEYCLOAK_VERSION:-26.4.7}
KEYCLOAK_PORT=${MLFP_KEYCLOAK_PORT:-18080}
# Keycloak's management interface (health, metrics) would otherwise take 9000.
KEYCLOAK_MANAGEMENT_PORT=${MLFP_KEYCLOAK_MANAGEMENT_PORT:-19000}
KEYCLOAK_HEAP=${MLFP_KEYCLOAK_HEAP:-512m}
# Master-realm admin for the admin console and REST API; loopback only, in-memory database.
KEYCLOAK_ADMIN_PASSWORD=${MLFP_KEYCLOAK_ADMIN_PASSWORD:-admin}
# A cold start (Quarkus augmentation, then realm import) takes 60 s or more on two cores beside other JVMs.
KEYCLOAK_READY_TIMEOUT_S=${MLFP_KEYCLOAK_TIMEOUT_S:-240}
POSTGRES_PORT=${MLFP_POSTGRES_PORT:-5432}
POSTGRES_CLUSTER=${MLFP_POSTGRES_CLUSTER:-main}
POSTGRES_DATABASE='test'
REDIS_PORT=${MLFP_REDIS_PORT:-6379}
HOST=127.0.0.1

KAFKA_DIR=$STATE_DIR/kafka
KAFKA_LIBS=$CACHE_DIR/kafka/$KAFKA_VERSION/libs
REGISTRY_DIR=$STATE_DIR/registry
REGISTRY_HOME=$CACHE_DIR/apicurio-registry/$REGISTRY_VERSION
REGISTRY_API=/apis/ccompat/v7
KEYCLOAK_DIR=$STATE_DIR/keycloak
KEYCLOAK_HOME=$CACHE_DIR/keycloak/$KEYCLOAK_VERSION
KEYCLOAK_REALM=mlfp
KEYCLOAK_REALM_FILE=$ROOT/config/keycloak/mlfp-realm.json
KEYCLOAK_ISSUER=http://$HOST:$KEYCLOAK_PORT/realms/$KEYCLOAK_REALM

log() { printf 'services: %s\n' "$*" >&2; }
die() {
  printf 'services: error: %s\n' "$*" >&2
  exit 1
}
usage() {
  printf 'usage: %s up|down|status|env [kafka|registry|keycloak|postgres|redis|all]\n' "$0" >&2
  exit 2
}

# --- probes: each proves the service answers its own protocol, not merely that a port is open -------------

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

# Kafka Metadata v1 request for no topics; ready when the reply lists at least one broker, which a KRaft
# broker only does once it has caught up with the metadata log and been unfenced.
kafka_ready() {
  # shellcheck disable=SC2016 # the inner bash expands its own positional parameters
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    # size 18 | api key 3 (Metadata) | version 1 | correlation id 7 | client id "mlfp" | topics: empty array
    printf "\x00\x00\x00\x12\x00\x03\x00\x01\x00\x00\x00\x07\x00\x04mlfp\x00\x00\x00\x00" >&3
    reply=$(head -c 12 <&3 | od -An -tx1 | tr -d " \n")
    # reply: size (4 bytes) | correlation id 7 | broker count > 0
    [[ ${reply:8:8} == 00000007 && ${reply:16:8} != 00000000 && ${#reply} -eq 24 ]]
  ' "$HOST" "$KAFKA_PORT" 2>/dev/null
}

# FindCoordinator v1 for a group (key type 0) or a transactional id (1). The first such request makes the
# broker create __consumer_offsets / __transaction_state; until then clients get "not the correct
# coordinator" (kafkajs crashes its first consumer on it), so `up` waits until both coordinators exist.
kafka_coordinator_ready() {
  # shellcheck disable=SC2016 # the inner bash expands its own positional parameters
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    # size 27 | api key 10 | version 1 | correlation id 9 | client id "mlfp" | key "mlfp-probe" | key type
    printf "\x00\x00\x00\x1b\x00\x0a\x00\x01\x00\x00\x00\x09\x00\x04mlfp\x00\x0amlfp-probe\x0$2" >&3
    reply=$(head -c 14 <&3 | od -An -tx1 | tr -d " \n")
    # reply: size | correlation id 9 | throttle time | error code 0
    [[ ${reply:8:8} == 00000009 && ${reply:24:4} == 0000 ]]
  ' "$HOST" "$KAFKA_PORT" "$1" 2>/dev/null
}

kafka_coordinators_ready() { kafka_coordinator_ready 0 && kafka_coordinator_ready 1; }

registry_ready() { curl -sf -o /dev/null --max-time 3 "http://$HOST:$REGISTRY_PORT$REGISTRY_API/subjects"; }

# The realm's discovery document names our issuer only once the realm has been imported.
keycloak_ready() {
  local document
  document=$(curl -sf --max-time 3 "$KEYCLOAK_ISSUER/.well-known/openid-configuration" 2>/dev/null) || return 1
  [[ $document == *"\"issuer\":\"$KEYCLOAK_ISSUER\""* ]]
}

postgres_ready() { pg_isready -q -h "$HOST" -p "$POSTGRES_PORT" -t 3; }

redis_ready() {
  # shellcheck disable=SC2016 # the inner bash expands its own positional parameters
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r line <&3
    [[ $line == +PONG* ]]
  ' "$HOST" "$REDIS_PORT" 2>/dev/null
}

# --- process helpers -----------------------------------------------------------------------------------

# The pid in $1 if it is alive and its command line contains $2 (guards against a recycled pid).
owned_pid() {
  local pid_file=$1 marker=$2 pid
  [[ -f $pid_file ]] || return 1
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  printf '%s' "$pid"
}

# Starts a daemon in its own session (a Ctrl-C or a test runner's exit must not take it down), with no
# inherited descriptors that could hold our lock or a caller's pipe open; records its pid.
launch() {
  local pid_file=$1 log_file=$2
  shift 2
  setsid "$@" >>"$log_file" 2>&1 </dev/null 9>&- &
  printf '%s\n' "$!" >"$pid_file"
}

# Waits until probe $1 succeeds; fails with the log tail if the process in $3 dies or time runs out ($7 s, set
# by the variable named in $8; default READY_TIMEOUT_S, MLFP_SERVICES_TIMEOUT_S). With no pid file (a service someone else started) only the time limit applies. If
# our process died because another checkout's service won the race for one of the ports in $6, that one is
# awaited instead.
await_ready() {
  local probe=$1 name=$2 pid_file=$3 marker=$4 log_file=$5 ports=${6:-} port
  local timeout_s=${7:-$READY_TIMEOUT_S} timeout_variable=${8:-MLFP_SERVICES_TIMEOUT_S}
  local deadline=$((SECONDS + timeout_s))
  until "$probe"; do
    if [[ -n $pid_file ]] && ! owned_pid "$pid_file" "$marker" >/dev/null; then
      for port in $ports; do
        if port_open "$port"; then
          log "$name: exited, but port $port is held by another process; waiting for that one"
          pid_file=''
          continue 2
        fi
      done
      printf 'services: error: %s exited during start-up; last lines of %s:\n' "$name" "$log_file" >&2
      tail -n 40 "$log_file" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      printf 'services: error: %s not ready after %ss (%s); last lines of %s:\n' \
        "$name" "$timeout_s" "$timeout_variable" "$log_file" >&2
      tail -n 40 "$log_file" >&2 || true
      exit 1
    fi
    sleep 0.25
  done
}

stop_pid_file() {
  local pid_file=$1 marker=$2 name=$3 pid
  if ! pid=$(owned_pid "$pid_file" "$marker"); then
    rm -f "$pid_file"
    log "$name: not started by this script (nothing to stop)"
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$name: no exit 30 s after SIGTERM; sending SIGKILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pid_file"
  log "$name: stopped (pid $pid)"
}

# Debian's Maven prints colour resets even in batch quiet mode; keep real messages, on stderr.
quiet_maven() { sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH: $2"; }

# --- Kafka -----------------------------------------------------------------------------------------------

kafka_marker() { printf '%s' "$KAFKA_DIR/server.properties"; }

kafka_resolve() {
  [[ -f $KAFKA_LIBS/.complete ]] && return 0
  need mvn 'Maven resolves the Kafka broker jars'
  need java 'the Kafka broker is a JVM program (Java 17+)'
  log "kafka: resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven into $KAFKA_LIBS (first use)"
  local staging=$KAFKA_LIBS.partial
  rm -rf "$staging"
  mkdir -p "$staging"
  mvn -B -q -Dstyle.color=never -f "$ROOT/scripts/maven/kafka-broker.pom.xml" "-Dkafka.version=$KAFKA_VERSION" \
    "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime "-DoutputDirectory=$staging" 2>&1 | quiet_maven ||
    die "Maven could not resolve Kafka $KAFKA_VERSION (MLFP_KAFKA_VERSION); see its output above"
  rm -rf "$KAFKA_LIBS"
  mv "$staging" "$KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
}

kafka_write_config() {
  local data_dir=$KAFKA_DIR/data-$KAFKA_VERSION
  mkdir -p "$data_dir"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by scripts/services.sh: one KRaft node acting as broker and controller, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data_dir
# The engine and the tests create their topics with explicit settings; a typo must not create a topic.
auto.create.topics.enable=false
num.partitions=6
default.replication.factor=1
# One broker: internal topics cannot have more replicas than that.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A consumer group forms at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
# message.max.bytes is left at Kafka's default (1 MB); the DLQ truncates originals to fit under it.
EOF
}

KAFKA_REUSED=0

# Resolves, formats and launches the broker, or notes that a ready one is reused; kafka_await waits.
kafka_start() {
  local marker pid_file=$KAFKA_DIR/kafka.pid log_file=$KAFKA_DIR/kafka.log
  marker=$(kafka_marker)
  if kafka_ready; then
    KAFKA_REUSED=1
    return 0
  fi
  mkdir -p "$KAFKA_DIR"
  if owned_pid "$pid_file" "$marker" >/dev/null; then
    log "kafka: already starting (pid $(<"$pid_file")); waiting"
  else
    if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
      die "kafka: port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT is taken by something that is not a ready Kafka broker (set MLFP_KAFKA_PORT / MLFP_KAFKA_CONTROLLER_PORT)"
    fi
    kafka_resolve
    kafka_write_config
    local data_dir=$KAFKA_DIR/data-$KAFKA_VERSION
    if [[ ! -f $data_dir/meta.properties ]]; then
      # A KRaft cluster id is 16 random bytes in URL-safe base64 without padding. It may start with '-' (one
      # in 64), which the tool would read as an option after a separate -t: pass it as --cluster-id=<id>.
      local cluster_id
      cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
      java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format --ignore-formatted \
        --cluster-id="$cluster_id" -c "$KAFKA_DIR/server.properties" >>"$log_file" 2>&1 ||
        {
          tail -n 40 "$log_file" >&2
          die "kafka: formatting $data_dir failed"
        }
    fi
    log "kafka: starting $KAFKA_VERSION on $HOST:$KAFKA_PORT (log $log_file)"
    launch "$pid_file" "$log_file" java "-Xmx$KAFKA_HEAP" "-Xms$KAFKA_HEAP" -XX:+UseG1GC \
      -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dorg.slf4j.simpleLogger.showDateTime=true \
      '-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss.SSS' \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$marker"
  fi
}

kafka_await() {
  local marker pid_file=$KAFKA_DIR/kafka.pid log_file=$KAFKA_DIR/kafka.log
  marker=$(kafka_marker)
  if ((KAFKA_REUSED)); then
    await_ready kafka_coordinators_ready 'kafka group and transaction coordinators' '' '' "$log_file"
    log "kafka: ready at $HOST:$KAFKA_PORT (reused)"
    return 0
  fi
  await_ready kafka_ready kafka "$pid_file" "$marker" "$log_file" "$KAFKA_PORT $KAFKA_CONTROLLER_PORT"
  if owned_pid "$pid_file" "$marker" >/dev/null; then
    await_ready kafka_coordinators_ready 'kafka group and transaction coordinators' "$pid_file" "$marker" "$log_file"
  else
    await_ready kafka_coordinators_ready 'kafka group and transaction coordinators' '' '' "$log_file"
  fi
  log "kafka: ready at $HOST:$KAFKA_PORT"
}

kafka_down() { stop_pid_file "$KAFKA_DIR/kafka.pid" "$(kafka_marker)" kafka; }

# --- schema registry (Apicurio, Confluent-compatible API) --------------------------------------------------

registry_jar() { printf '%s' "$REGISTRY_HOME/apicurio-registry-app-$REGISTRY_VERSION-runner.jar"; }

registry_resolve() {
  [[ -f $REGISTRY_HOME/.complete ]] && return 0
  need mvn 'Maven downloads the Apicurio registry'
  need java 'the registry is a JVM program (Java 17+)'
  log "registry: resolving io.apicurio:apicurio-registry-app:$REGISTRY_VERSION (tar.gz, ~142 MB) with Maven (first use)"
  local staging=$REGISTRY_HOME.partial
  rm -rf "$staging"
  mkdir -p "$staging"
  mvn -B -q -Dstyle.color=never -f "$ROOT/scripts/maven/kafka-broker.pom.xml" "$DEPENDENCY_PLUGIN:copy" \
    "-Dartifact=io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all" \
    "-DoutputDirectory=$staging/download" 2>&1 | quiet_maven ||
    die "Maven could not download Apicurio Registry $REGISTRY_VERSION; see its output above"
  tar -xzf "$staging"/download/*.tar.gz -C "$staging"
  rm -rf "$staging/download"
  # The archive may wrap everything in one folder; keep the runner jar at the top.
  if [[ ! -f $staging/apicurio-registry-app-$REGISTRY_VERSION-runner.jar ]]; then
    local jar
    jar=$(find "$staging" -name "apicurio-registry-app-$REGISTRY_VERSION-runner.jar" -print -quit)
    [[ -n $jar ]] || die "registry: no runner jar in the Apicurio archive"
    local inner
    inner=$(dirname "$jar")
    shopt -s dotglob
    mv "$inner"/* "$staging"/
    shopt -u dotglob
  fi
  rm -rf "$REGISTRY_HOME"
  mv "$staging" "$REGISTRY_HOME"
  touch "$REGISTRY_HOME/.complete"
}

REGISTRY_REUSED=0

registry_start() {
  local pid_file=$REGISTRY_DIR/registry.pid log_file=$REGISTRY_DIR/registry.log marker
  marker=$(registry_jar)
  if registry_ready; then
    REGISTRY_REUSED=1
    return 0
  fi
  mkdir -p "$REGISTRY_DIR"
  if owned_pid "$pid_file" "$marker" >/dev/null; then
    log "registry: already starting (pid $(<"$pid_file")); waiting"
  else
    port_open "$REGISTRY_PORT" &&
      die "registry: port $REGISTRY_PORT is taken by something that is not a schema registry (set MLFP_REGISTRY_PORT)"
    registry_resolve
    log "registry: starting Apicurio $REGISTRY_VERSION (in-memory) on $HOST:$REGISTRY_PORT (log $log_file)"
    # The working directory holds whatever Quarkus writes at run time.
    (cd "$REGISTRY_DIR" && launch "$pid_file" "$log_file" java "-Xmx$REGISTRY_HEAP" -Djava.awt.headless=true \
      "-Dquarkus.http.host=$HOST" "-Dquarkus.http.port=$REGISTRY_PORT" -jar "$marker")
  fi
}

registry_await() {
  local pid_file=$REGISTRY_DIR/registry.pid log_file=$REGISTRY_DIR/registry.log marker
  marker=$(registry_jar)
  if ((REGISTRY_REUSED)); then
    log "registry: ready at http://$HOST:$REGISTRY_PORT$REGISTRY_API (reused)"
    return 0
  fi
  await_ready registry_ready registry "$pid_file" "$marker" "$log_file" "$REGISTRY_PORT"
  log "registry: ready at http://$HOST:$REGISTRY_PORT$REGISTRY_API"
}

registry_down() { stop_pid_file "$REGISTRY_DIR/registry.pid" "$(registry_jar)" registry; }

# --- identity provider (Keycloak, realm imported from config/keycloak/) -----------------------------------

# The pid file holds kc.sh's pid; kc.sh re-executes itself as the server JVM (after a first-run build), whose
# command line still names the home folder (-Dkc.home.dir=<home>/bin/..).
keycloak_marker() { printf '%s' "$KEYCLOAK_HOME/bin/"; }

# The major version of the JDK in $1, from its release file (or `java -version` where it has none).
java_major() {
  local version
  if [[ -f $1/release ]]; then
    version=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release")
  else
    version=$("$1/bin/java" -version 2>&1 | sed -n '1s/.*version "\([0-9][0-9]*\).*/\1/p')
  fi
  [[ $version =~ ^[0-9]+$ ]] || return 1
  printf '%s' "$version"
}

# Keycloak 26 needs Java 21+; the machine's default java may be older. MLFP_KEYCLOAK_JAVA_HOME wins (and must be
# new enough); else JAVA_HOME, the java on PATH, then the newest JDK under /usr/lib/jvm.
keycloak_java_home() {
  local candidate major path_java
  if [[ -n ${MLFP_KEYCLOAK_JAVA_HOME:-} ]]; then
    major=$(java_major "$MLFP_KEYCLOAK_JAVA_HOME") || major=0
    ((major >= 21)) || die "keycloak: MLFP_KEYCLOAK_JAVA_HOME=$MLFP_KEYCLOAK_JAVA_HOME is not a JDK 21 or newer"
    printf '%s' "$MLFP_KEYCLOAK_JAVA_HOME"
    return 0
  fi
  path_java=$(command -v java 2>/dev/null) && path_java=$(dirname "$(dirname "$(readlink -f "$path_java")")")
  local candidates=("${JAVA_HOME:-}" "${path_java:-}")
  while IFS= read -r candidate; do candidates+=("$candidate"); done < <(
    for candidate in /usr/lib/jvm/*; do
      [[ -x $candidate/bin/java && ! -L $candidate ]] && major=$(java_major "$candidate") &&
        printf '%s %s\n' "$major" "$candidate"
    done | sort -rn | cut -d' ' -f2-
  )
  for candidate in "${candidates[@]}"; do
    [[ -n $candidate && -x $candidate/bin/java ]] || continue
    major=$(java_major "$candidate") || continue
    if ((major >= 21)); then
      printf '%s' "$candidate"
      return 0
    fi
  done
  die "keycloak: needs a JDK 21 or newer (none in JAVA_HOME, on PATH or under /usr/lib/jvm); set MLFP_KEYCLOAK_JAVA_HOME"
}

keycloak_resolve() {
  [[ -f $KEYCLOAK_HOME/.complete ]] && return 0
  need mvn 'Maven downloads the Keycloak distribution'
  need unzip 'the Keycloak distribution is a zip'
  log "keycloak: resolving org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION (zip, ~159 MB) with Maven (first use)"
  local staging=$KEYCLOAK_HOME.partial
  rm -rf "$staging"
  mkdir -p "$staging"
  mvn -B -q -Dstyle.color=never -f "$ROOT/scripts/maven/kafka-broker.pom.xml" "$DEPENDENCY_PLUGIN:copy" \
    "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
    "-DoutputDirectory=$staging/download" 2>&1 | quiet_maven ||
    die "Maven could not download Keycloak $KEYCLOAK_VERSION (MLFP_KEYCLOAK_VERSION); see its output above"
  unzip -q "$staging"/download/*.zip -d "$staging/unpacked" || die "keycloak: unzipping the distribution failed"
  rm -rf "$staging/download"
  [[ -f $staging/unpacked/keycloak-$KEYCLOAK_VERSION/bin/kc.sh ]] || die "keycloak: no bin/kc.sh in the archive"
  chmod +x "$staging/unpacked/keycloak-$KEYCLOAK_VERSION/bin/kc.sh"
  rm -rf "$KEYCLOAK_HOME"
  mv "$staging/unpacked/keycloak-$KEYCLOAK_VERSION" "$KEYCLOAK_HOME"
  rm -rf "$staging"
  touch "$KEYCLOAK_HOME/.complete"
}

# The realm file a running server imported; a server we started from an older file is restarted.
keycloak_realm_digest() { sha256sum "$KEYCLOAK_REALM_FILE" | cut -d' ' -f1; }

KEYCLOAK_REUSED=0

keycloak_start() {
  local pid_file=$KEYCLOAK_DIR/keycloak.pid log_file=$KEYCLOAK_DIR/keycloak.log marker
  marker=$(keycloak_marker)
  [[ -f $KEYCLOAK_REALM_FILE ]] || die "keycloak: realm file $KEYCLOAK_REALM_FILE is missing"
  mkdir -p "$KEYCLOAK_DIR"
  if keycloak_ready; then
    if owned_pid "$pid_file" "$marker" >/dev/null &&
      [[ $(cat "$KEYCLOAK_DIR/realm.sha256" 2>/dev/null) != "$(keycloak_realm_digest)" ]]; then
      log "keycloak: $KEYCLOAK_REALM_FILE changed since start; restarting to import it"
      keycloak_down
    else
      KEYCLOAK_REUSED=1
      return 0
    fi
  fi
  if owned_pid "$pid_file" "$marker" >/dev/null; then
    log "keycloak: already starting (pid $(<"$pid_file")); waiting"
    return 0
  fi
  if port_open "$KEYCLOAK_PORT" || port_open "$KEYCLOAK_MANAGEMENT_PORT"; then
    die "keycloak: port $KEYCLOAK_PORT or $KEYCLOAK_MANAGEMENT_PORT is taken by something that is not our Keycloak realm (set MLFP_KEYCLOAK_PORT / MLFP_KEYCLOAK_MANAGEMENT_PORT)"
  fi
  keycloak_resolve
  local java_home
  java_home=$(keycloak_java_home)
  # --import-realm reads <home>/data/import; the in-memory database makes every start a fresh import.
  mkdir -p "$KEYCLOAK_HOME/data/import"
  cp "$KEYCLOAK_REALM_FILE" "$KEYCLOAK_HOME/data/import/$KEYCLOAK_REALM-realm.json"
  keycloak_realm_digest >"$KEYCLOAK_DIR/realm.sha256"
  log "keycloak: starting $KEYCLOAK_VERSION (Java $(java_major "$java_home"), realm $KEYCLOAK_REALM) on $HOST:$KEYCLOAK_PORT (log $log_file)"
  # start-dev: plain HTTP and an in-memory H2 database; --hostname pins the issuer whatever host name a client
  # uses, so tokens always carry iss=$KEYCLOAK_ISSUER.
  (cd "$KEYCLOAK_DIR" && launch "$pid_file" "$log_file" env "JAVA_HOME=$java_home" \
    "JAVA_OPTS_KC_HEAP=-Xms64m -Xmx$KEYCLOAK_HEAP" \
    KC_BOOTSTRAP_ADMIN_USERNAME=admin "KC_BOOTSTRAP_ADMIN_PASSWORD=$KEYCLOAK_ADMIN_PASSWORD" \
    "$KEYCLOAK_HOME/bin/kc.sh" start-dev --db=dev-mem --import-realm \
    "--http-host=$HOST" "--http-port=$KEYCLOAK_PORT" "--http-management-port=$KEYCLOAK_MANAGEMENT_PORT" \
    "--hostname=http://$HOST:$KEYCLOAK_PORT")
}

keycloak_await() {
  local pid_file=$KEYCLOAK_DIR/keycloak.pid log_file=$KEYCLOAK_DIR/keycloak.log marker
  marker=$(keycloak_marker)
  if ((KEYCLOAK_REUSED)); then
    log "keycloak: ready at $KEYCLOAK_ISSUER (reused)"
    return 0
  fi
  await_ready keycloak_ready keycloak "$pid_file" "$marker" "$log_file" \
    "$KEYCLOAK_PORT $KEYCLOAK_MANAGEMENT_PORT" "$KEYCLOAK_READY_TIMEOUT_S" MLFP_KEYCLOAK_TIMEOUT_S
  log "keycloak: ready at $KEYCLOAK_ISSUER"
}

keycloak_down() { stop_pid_file "$KEYCLOAK_DIR/keycloak.pid" "$(keycloak_marker)" keycloak; }

# --- PostgreSQL and Redis: the machine's own servers, started when down, never stopped --------------------

postgres_start() {
  need pg_isready 'PostgreSQL client tools are expected on this machine'
  if ! postgres_ready; then
    need pg_ctlcluster 'cannot start PostgreSQL: install it or start it yourself'
    local version
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
    [[ -n $version ]] || die 'postgres: no cluster under /etc/postgresql'
    log "postgres: not answering on $HOST:$POSTGRES_PORT; starting cluster $version/$POSTGRES_CLUSTER"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$POSTGRES_CLUSTER" start >&2 ||
      die "postgres: pg_ctlcluster $version $POSTGRES_CLUSTER start failed"
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until postgres_ready; do
      ((SECONDS < deadline)) || die "postgres: not ready after ${READY_TIMEOUT_S}s; see /var/log/postgresql/"
      sleep 0.25
    done
  fi
  local exists
  exists=$(psql -h "$HOST" -p "$POSTGRES_PORT" -U postgres -d postgres -tAc \
    "select 1 from pg_database where datname = '$POSTGRES_DATABASE'") ||
    die "postgres: cannot connect as user postgres (trust auth expected on $HOST:$POSTGRES_PORT)"
  if [[ $exists != 1 ]]; then
    psql -h "$HOST" -p "$POSTGRES_PORT" -U postgres -d postgres -qc "create database $POSTGRES_DATABASE" >&2
    log "postgres: created database $POSTGRES_DATABASE"
  fi
  log "postgres: ready at $HOST:$POSTGRES_PORT/$POSTGRES_DATABASE"
}

redis_start() {
  if ! redis_ready; then
    need redis-server 'cannot start Redis: install it or start it yourself'
    log "redis: not answering on $HOST:$REDIS_PORT; starting it"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind "$HOST" -::1 --port "$REDIS_PORT" --save '' --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2 9>&- || die 'redis: redis-server failed to start'
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until redis_ready; do
      if ((SECONDS >= deadline)); then
        tail -n 20 /var/log/redis/ci.log >&2 || true
        die "redis: not ready after ${READY_TIMEOUT_S}s"
      fi
      sleep 0.25
    done
  fi
  log "redis: ready at $HOST:$REDIS_PORT"
}

# --- commands --------------------------------------------------------------------------------------------

env_line() {
  case $1 in
  kafka) printf 'MLFP_KAFKA_BROKERS=%s:%s\n' "$HOST" "$KAFKA_PORT" ;;
  registry) printf 'MLFP_REGISTRY_URL=http://%s:%s%s\n' "$HOST" "$REGISTRY_PORT" "$REGISTRY_API" ;;
  keycloak) printf 'MLFP_KEYCLOAK_ISSUER=%s\n' "$KEYCLOAK_ISSUER" ;;
  postgres) printf 'MLFP_POSTGRES_URL=postgres://postgres@%s:%s/%s\n' "$HOST" "$POSTGRES_PORT" "$POSTGRES_DATABASE" ;;
  redis) printf 'MLFP_REDIS_URL=redis://%s:%s\n' "$HOST" "$REDIS_PORT" ;;
  esac
}

status_line() {
  local service=$1 probe=$2 pid_file=${3:-} marker=${4:-} where pid
  if "$probe"; then
    where=external
    if [[ -n $pid_file ]] && pid=$(owned_pid "$pid_file" "$marker"); then where="started here, pid $pid"; fi
    [[ -z $pid_file ]] && where='machine service'
    printf '%-9s up    (%s) %s\n' "$service" "$where" "$(env_line "$service")"
    return 0
  fi
  printf '%-9s down  %s\n' "$service" "$(env_line "$service")"
  return 1
}

status_of() {
  case $1 in
  kafka) status_line kafka kafka_ready "$KAFKA_DIR/kafka.pid" "$(kafka_marker)" ;;
  registry) status_line registry registry_ready "$REGISTRY_DIR/registry.pid" "$(registry_jar)" ;;
  keycloak) status_line keycloak keycloak_ready "$KEYCLOAK_DIR/keycloak.pid" "$(keycloak_marker)" ;;
  postgres) status_line postgres postgres_ready ;;
  redis) status_line redis redis_ready ;;
  esac
}

main() {
  local command=${1:-} target=${2:-all} services
  [[ $# -le 2 ]] || usage
  case $target in
  all) services=(kafka registry keycloak postgres redis) ;;
  kafka | registry | keycloak | postgres | redis) services=("$target") ;;
  *) usage ;;
  esac

  case $command in
  up | down)
    mkdir -p "$STATE_DIR"
    # One up/down at a time per state folder: two test runs starting at once must not start two brokers.
    exec 9>"$STATE_DIR/lock"
    flock -w 900 9 || die "another services.sh holds $STATE_DIR/lock"
    local service
    if [[ $command == up ]]; then
      # Downloads run one after another (Maven's local repository has no locking), then the JVMs start
      # together and are awaited together: the broker, the registry and Keycloak boot in parallel.
      for service in "${services[@]}"; do "${service}_start"; done
      for service in "${services[@]}"; do
        case $service in kafka | registry | keycloak) "${service}_await" ;; esac
      done
    else
      for service in "${services[@]}"; do
        case $service in
        kafka | registry | keycloak) "${service}_down" ;;
        *) log "$service: machine service, left running" ;;
        esac
      done
    fi
    ;;
  status)
    local service failed=0
    for service in "${services[@]}"; do status_of "$service" || failed=1; done
    return "$failed"
    ;;
  env)
    local service
    for service in "${services[@]}"; do env_line "$service"; done
    ;;
  *) usage ;;
  esac
}

main "$@"
