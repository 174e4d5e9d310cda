# Sourced after lib.sh by tests that need real servers on 127.0.0.1: Debian's
# nginx (HTTP and HTTPS, with a CA made here) and the fault-injecting server.
# Everything lives under $T and is stopped when the test exits.
#
#   make_certs               $T/pki/{ca.pem,server.pem,server.key,wrong-ca.pem}
#   nginx_start ROOT [HTTP_CONF [SERVER_CONF]]
#                            NGINX_PORT (http), NGINX_TLS_PORT (https), NGINX_LOG (access log,
#                            lines: STATUS "REQUEST" range="RANGE" sent=BODY_BYTES)
#   fault_start ROOT         FAULT_PORT, FAULT_LOG (see tests/tools/faultserver.c)

SERVER_PIDS=()
stop_servers() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${SERVER_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	SERVER_PIDS=()
}
trap 'stop_servers; rm -rf "$T"' EXIT

# Nothing of these tests may go through a proxy of the machine's environment.
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

make_certs() {
	local d=$T/pki
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=ibdrv test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=ibdrv other CA" -keyout "$d/wrong-ca.key" -out "$d/wrong-ca.pem" 2>/dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
			-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/ext" &&
		openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/ext" -out "$d/server.pem" 2>/dev/null ||
		{ echo "cannot make test certificates" >&2; exit 1; }
}

# Writes the config for ports $1/$2 and starts nginx in the foreground of a background job.
_nginx_try() {
	local root=$1 http_conf=$2 server_conf=$3 port=$4 tls_port=$5 d=$T/nginx user_line=""
	[ "$(id -u)" -eq 0 ] && user_line="user root;"
	mkdir -p "$d/tmp"
	: >"$d/error.log"
	cat >"$d/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 512; }
http {
	log_format ibdrv '\$status "\$request" range="\$http_range" sent=\$body_bytes_sent';
	access_log $d/access.log ibdrv;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	default_type application/octet-stream;
	$http_conf
	server {
		listen 127.0.0.1:$port;
		listen 127.0.0.1:$tls_port ssl;
		ssl_certificate $T/pki/server.pem;
		ssl_certificate_key $T/pki/server.key;
		root $root;
		$server_conf
	}
}
EOF
	nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" -g "daemon off;" &
	NGINX_PID=$!
	local i
	for i in $(seq 50); do
		kill -0 "$NGINX_PID" 2>/dev/null || return 1
		curl -s -o /dev/null --noproxy '*' "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	kill "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	return 1
}

nginx_start() {
	local root=$1 http_conf=${2:-} server_conf=${3:-} try port
	[ -f "$T/pki/ca.pem" ] || make_certs
	for try in $(seq 20); do
		port=$((20000 + RANDOM % 40000))
		if _nginx_try "$root" "$http_conf" "$server_conf" "$port" $((port + 1)); then
			SERVER_PIDS+=("$NGINX_PID")
			NGINX_PORT=$port
			NGINX_TLS_PORT=$((port + 1))
			NGINX_LOG=$T/nginx/access.log
			return 0
		fi
	done
	echo "nginx did not start:" >&2
	cat "$T/nginx/error.log" >&2
	exit 1
}

fault_start() {
	local root=$1 i
	rm -f "$T/fault.port"
	"$IBDRV_BIN/tests/tools/faultserver" --root "$root" --port-file "$T/fault.port" \
		--log "$T/fault.log" --lifetime 600 &
	SERVER_PIDS+=("$!")
	for i in $(seq 50); do
		[ -s "$T/fault.port" ] && break
		sleep 0.1
	done
	[ -s "$T/fault.port" ] || { echo "faultserver did not start" >&2; exit 1; }
	FAULT_PORT=$(cat "$T/fault.port")
	FAULT_LOG=$T/fault.log
}
