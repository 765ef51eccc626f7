# bench/lib.sh: shell helpers the benchmark scripts share (sourced, not run).

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT [SECONDS]: waits until something listens on 127.0.0.1:PORT (default 60 s);
# fails with a message after that.
wait_port() {
    local secs=${2:-60}
    for _ in $(seq $((secs * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1 after $secs s" >&2
    return 1
}
