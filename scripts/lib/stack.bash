# Shared helpers for the scripts that start the built binaries on free ports
# (scripts/grpcurl-check, scripts/browser-check). Source it; do not run it.
#
#   source scripts/lib/stack.bash
#   stack_init               # temp dir in $STACK_DIR, cleanup trap on exit
#   port=$(free_port)
#   stack_start NAME CMD...   # background process, log in $STACK_DIR/NAME.log
#   wait_http URL SECONDS     # until URL answers 2xx
#   wait_tcp HOST PORT SECONDS
#
# Every process started with stack_start is stopped (TERM, then KILL) when
# the calling script exits, and the temp dir is removed.

STACK_PIDS=()
STACK_NAMES=()

stack_init() {
  STACK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/${STACK_PREFIX:-stack}.XXXXXX")"
  trap stack_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

stack_cleanup() {
  local rc=$?
  local pid
  for pid in "${STACK_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${STACK_PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" != 0 ] && [ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR" ]; then
    local log
    for log in "$STACK_DIR"/*.log; do
      [ -f "$log" ] || continue
      echo "---- last lines of $(basename "$log") ----" >&2
      tail -n 20 "$log" | redact >&2
    done
  fi
  [ -n "${STACK_DIR:-}" ] && rm -rf "$STACK_DIR"
  return "$rc"
}

# A TCP port that was free a moment ago on 127.0.0.1 (the kernel picks it).
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Hide secrets in anything we echo: token fields of JSON answers and the
# code/state/nonce/PKCE/binding parameters of URLs.
redact() {
  sed -E \
    -e 's/("(accessToken|refreshToken|access_token|refresh_token|binding|code)" *: *")[^"]*"/\1<redacted>"/g' \
    -e 's/(([?&]|\\u0026)(code|state|nonce|code_challenge|code_verifier|binding)=)[^&"\\ ]*/\1<redacted>/g' \
    -e 's/(eyJ[A-Za-z0-9_-]{4})[A-Za-z0-9_.-]+/\1…<redacted-jwt>/g'
}

stack_start() {
  local name="$1"; shift
  "$@" >"$STACK_DIR/$name.log" 2>&1 &
  STACK_PIDS+=("$!")
  STACK_NAMES+=("$name")
}

# Fails if any started process has exited.
stack_alive() {
  local i
  for i in "${!STACK_PIDS[@]}"; do
    if ! kill -0 "${STACK_PIDS[$i]}" 2>/dev/null; then
      echo "${STACK_NAMES[$i]} exited early; its log:" >&2
      tail -n 30 "$STACK_DIR/${STACK_NAMES[$i]}.log" | redact >&2
      return 1
    fi
  done
}

wait_tcp() {
  local host="$1" port="$2" secs="${3:-30}" i
  for i in $(seq 1 $((secs * 5))); do
    if timeout 1 bash -c ">/dev/tcp/$host/$port" 2>/dev/null; then return 0; fi
    stack_alive || return 1
    sleep 0.2
  done
  echo "nothing listens on $host:$port after ${secs}s" >&2
  return 1
}

wait_http() {
  local url="$1" secs="${2:-30}" i
  for i in $(seq 1 $((secs * 5))); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    stack_alive || return 1
    sleep 0.2
  done
  echo "$url did not answer 2xx after ${secs}s" >&2
  return 1
}

# Builds the three binaries unless SKIP_BUILD=1 (cheap when up to date).
build_bins() {
  if [ "${SKIP_BUILD:-0}" != "1" ]; then
    if ! cargo build --quiet --workspace --bins; then
      echo "cargo build --workspace --bins failed: the binaries could not be built" >&2
      return 1
    fi
  fi
  local bin
  for bin in kakao-emulator auth-service http-edge; do
    if [ ! -x "target/debug/$bin" ]; then
      echo "target/debug/$bin is missing: run cargo build --workspace --bins" >&2
      return 1
    fi
  done
}
