#!/usr/bin/env bash
# Starts `facet serve` on the embedded store with demo keys, loads the demo
# data set the first time, prints where to look, and runs until Ctrl-C.
set -euo pipefail
BIN=${1:?facet binary}
PORT=${2:-8080}
DATA_DIR=${3:-./facet-data}
PERSONS=${4:-100000}
WRITE_KEY=${FACET_WRITE_KEY:-demo-write-key}
SERVER_KEY=${FACET_SERVER_WRITE_KEY:-demo-server-key}
ADMIN_KEY=${FACET_ADMIN_KEY:-demo-admin-key}
URL="http://127.0.0.1:${PORT}"

mkdir -p "$DATA_DIR"
"$BIN" serve --port "$PORT" --data-dir "$DATA_DIR" --write-key "$WRITE_KEY" --server-write-key "$SERVER_KEY" --admin-key "$ADMIN_KEY" \
  2> >(tee -a "$DATA_DIR/server.log" >&2) &
SERVER_PID=$!
trap 'kill -TERM $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null; exit 0' INT TERM

for _ in $(seq 1 300); do
  if curl -fsS "$URL/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $SERVER_PID 2>/dev/null; then echo "facet failed to start; see $DATA_DIR/server.log" >&2; exit 1; fi
  sleep 0.2
done

if [ ! -f "$DATA_DIR/.demo-loaded" ]; then
  echo "Loading the demo data set ($PERSONS persons)..."
  "$BIN" demo --url "$URL" --write-key "$SERVER_KEY" --persons "$PERSONS"
  touch "$DATA_DIR/.demo-loaded"
fi
if [ ! -f "$DATA_DIR/.tags-loaded" ]; then
  echo "Loading the retail tag pack (examples/tags/retail-pack.yaml)..."
  "$BIN" tags load examples/tags/retail-pack.yaml --url "$URL" --key "$ADMIN_KEY"
  touch "$DATA_DIR/.tags-loaded"
fi

cat <<MSG

Facet is running at $URL
  client write key (browser and app SDKs):  $WRITE_KEY
  server write key (back-ends, import):    $SERVER_KEY
  admin key (everything else): $ADMIN_KEY

Try:
  curl -s -H 'Authorization: Bearer $ADMIN_KEY' $URL/v1/stats
  curl -s -H 'Authorization: Bearer $ADMIN_KEY' $URL/v1/persons/user_id/M0000001
  curl -s -H 'Authorization: Bearer $ADMIN_KEY' $URL/metrics | head
  curl -s -u $WRITE_KEY: $URL/v1/track -d '{"userId":"M0000001","event":"Coupon Redeemed","properties":{"value":20}}'
  curl -s -H 'Authorization: Bearer $ADMIN_KEY' $URL/v1/tags
  curl -s -H 'Authorization: Bearer $ADMIN_KEY' $URL/v1/segments/preview \
    -d '{"expression": "count(\"Order Completed\", 365d) >= 2 AND trait.city = \"佛山\"", "sample": 3, "breakdown": "trait.gender"}'

Ctrl-C stops the server; the data stays in $DATA_DIR.
MSG
wait $SERVER_PID
