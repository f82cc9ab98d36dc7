# Shared by the load benchmarks over a real socket (benches/load/run, benches/load/paging): sourced,
# not run. The script sets $work (a scratch directory), $results (the TSV the runs append to) and
# $secret before calling these; start_server sets $server_pid, $port and $base, stop_server $rss_kib.

# Builds the release binary unless BIN names one; sets BIN.
build_bin() {
    if [[ -z ${BIN:-} ]]; then
        cargo build --release --locked --bin fieldproof >&2
        BIN=${CARGO_TARGET_DIR:-target}/release/fieldproof
    fi
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
load_average() { cut -d' ' -f1 /proc/loadavg; }

# record BACKEND PATH CONNECTIONS WHO "RESULT requests seconds p50 p99 errors"
record() {
    local line
    line=$(grep '^RESULT' <<<"$5" | tail -1) || { echo "error: no result from $4 ($2, c$3):" >&2; echo "$5" >&2; exit 1; }
    read -r _ requests seconds p50 p99 errors <<<"$line"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$requests" "$seconds" "$p50" "$p99" "$errors" "$(load_average)" >>"$results"
    printf '%-10s %-22s c%-3s %-10s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %s  load %s%s\n' \
        "$1" "$2" "$3" "$4" "$(awk "BEGIN { print $requests / $seconds }")" "$p50" "$p99" "$errors" "$(load_average)" \
        "$(server_rss "$4")" >&2
}

# After a run of fieldproof: its resident memory at that moment, for the log (where memory grows).
server_rss() {
    [[ $1 == fieldproof && -n ${server_pid:-} ]] || return 0
    echo "  rss $(( $(ps -o rss= -p "$server_pid" | tr -d ' ') / 1024 )) MiB"
}

# start_server DATABASE_URL: the release binary with the demo users, on a free port; waits until ready.
start_server() {
    port=$(free_port)
    DATABASE_URL=$1 FIELDPROOF_BIND=127.0.0.1:$port FIELDPROOF_JWT_SECRET=$secret RUST_LOG=warn \
        "$BIN" serve --demo >>"$work/server.log" 2>&1 &
    server_pid=$!
    base=http://127.0.0.1:$port
    for _ in $(seq 300); do
        curl -fs "$base/readyz" >/dev/null 2>&1 && return
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "error: fieldproof did not start:" >&2; cat "$work/server.log" >&2; exit 1
}

stop_server() {
    rss_kib=$(ps -o rss= -p "$server_pid" | tr -d ' ')
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
    server_pid=''
}
