#!/usr/bin/env bash
# Serve the dashboard from several app processes on one store, behind Caddy with sticky sessions.
#
#   CJM_DATABASE_URL=postgresql+psycopg://user:password@host/db deploy/replicas.sh [N]
#
# N (or CJM_REPLICAS): app processes, default one per core. Each is `streamlit run app.py` on 127.0.0.1, ports
# CJM_FIRST_REPLICA_PORT (default 8601) and up; Caddy listens on CJM_PORT (default 8501) for the users. The store:
# CJM_DATABASE_URL, or the embedded DuckDB file (data/cjm.duckdb), made with the sample company first if missing.
# Every replica opens a DuckDB file read-only, so they all read it at once; a load with `python -m data_access
# ingest` waits for their short reads and they for it. Stop with Ctrl-C or SIGTERM: every process stops.
set -euo pipefail
cd "$(dirname "$0")/.."

replicas="${1:-${CJM_REPLICAS:-$(nproc)}}"
port="${CJM_PORT:-8501}"
first="${CJM_FIRST_REPLICA_PORT:-8601}"
python="${CJM_PYTHON:-$(command -v .venv/bin/python || command -v python3)}"
command -v caddy >/dev/null || { echo "caddy is not installed (Debian: apt-get install caddy)" >&2; exit 2; }

if [ -z "${CJM_DATABASE_URL:-}" ]; then  # one process makes the sample store, before the replicas read it
    "$python" -c 'from data_access.config import default_store_path; import sys; sys.exit(default_store_path().exists())' \
        && "$python" -m data_access seed --customers "${CJM_SAMPLE_CUSTOMERS:-3000}"
fi

pids=()
stop() {
    trap - EXIT INT TERM
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

upstreams=()
for i in $(seq 0 $((replicas - 1))); do
    p=$((first + i))
    "$python" -m streamlit run app.py --server.port "$p" --server.address 127.0.0.1 &
    pids+=($!)
    upstreams+=("127.0.0.1:$p")
done
for p in "${upstreams[@]}"; do  # the proxy starts when every replica answers
    for _ in $(seq 1 120); do
        curl -fs "http://$p/_stcore/health" >/dev/null && break
        sleep 0.5
    done
done

CJM_UPSTREAMS="${upstreams[*]}" CJM_PORT="$port" caddy run --config deploy/Caddyfile --adapter caddyfile &
pids+=($!)
echo "serving on http://localhost:$port with $replicas replicas: ${upstreams[*]}" >&2
wait -n "${pids[@]}"  # when one of them stops, all stop
