#!/usr/bin/env bash
# ibdrv-install detect on fixture machines, facts files, and a real metadata service (nginx).
source "$(dirname "$0")/lib.sh"

DATA="$SRC/tests/data"
NGINX_PID=
trap '[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null; rm -rf "$T"' EXIT

# A loopback port nobody listens on (connecting is refused).
closed_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
CLOSED=$(closed_port)
NOWHERE="http://127.0.0.1:$CLOSED/"

# compact FILE: the JSON without whitespace, to grep for "key":"value".
compact() { tr -d ' \t\n' <"$1"; }
expect_json() {
	if compact "$T/out" | grep -qF -- "$1"; then ok; else
		fail "JSON output lacks $1:"
		sed 's/^/    /' "$T/out" >&2
	fi
}
expect_no_json() {
	if compact "$T/out" | grep -qF -- "$1"; then fail "JSON output has $1"; else ok; fi
}

detect_fixture() { # NAME OS-RELEASE KVP [more options]
	local name=$1 osr=$2 kvp=$3
	shift 3
	expect_rc 0 "$INSTALL" detect --json --sysfs-root "$DATA/sysfs/$name" \
		--os-release "$DATA/os-release/$osr" --kvp-pool "$DATA/kvp/$kvp" --imds-url "$NOWHERE" "$@"
}

# --- fixture machines, metadata service unreachable ---
detect_fixture HB120rs_v2 ubuntu-20.04 none
expect_json '"vm_size":"unknown"'
expect_json '"os":{"family":"linux","id":"ubuntu","version":"20.04","pretty_name":"Ubuntu20.04.6LTS"}'
expect_json '"nics":[{"pci_address":"0101:00:00.0","vendor":"15b3","device":"101c","class":"0207","generation":"CX6","virtual_function":true,"link_layer":"infiniband","ib_device":"mlx5_ib0"}]'
expect_json '"nd_over_vmbus":false'
# The log says why the size is unknown.
expect_err "VM size unknown"
expect_err "127.0.0.1:$CLOSED/metadata/instance/compute?api-version=2021-02-01"
cp "$T/out" "$T/hb120rs_v2.json"

detect_fixture HB120rs_v3 ubuntu-22.04 none
expect_json '"device":"101c","class":"0207","generation":"CX6","virtual_function":true,"link_layer":"infiniband","ib_device":"mlx5_ib0"'
expect_json '"pci_address":"7c1d:00:02.0","vendor":"15b3","device":"1016","class":"0200","generation":"CX4","virtual_function":true,"link_layer":"ethernet","ib_device":"mlx5_an0"'

detect_fixture NC24rs_v3 centos-7 none
expect_json '"id":"centos","version":"7"'
expect_json '"device":"1004","class":"0207","generation":"CX3-Pro","virtual_function":true,"link_layer":"infiniband","ib_device":"mlx4_0"'

detect_fixture ND96isr_H100_v5 ubuntu-22.04 none
expect_json '"pci_address":"0108:00:00.0","vendor":"15b3","device":"101e","class":"0207","generation":null,"virtual_function":true,"link_layer":"infiniband","ib_device":"mlx5_ib7"'
[ "$(compact "$T/out" | grep -o '"device":"101e"' | wc -l)" -eq 8 ] && ok || fail "ND96isr_H100_v5: expected 8 VFs"

detect_fixture H16r almalinux-8.7 H16r.kvp_pool_0
expect_json '"nd_over_vmbus":true,"nd_driver_version":"142.0","nics":[]'
expect_json '"id":"almalinux","version":"8.7"'

detect_fixture D4s_v3 ubuntu-22.04 other.kvp_pool_0
expect_json '"nd_over_vmbus":false'
expect_json '"device":"1016","class":"0200","generation":"CX4","virtual_function":true,"link_layer":"ethernet"'

# Human-readable: the Ethernet VF is shown as ignored, the decision is made from the hardware.
expect_rc 0 "$INSTALL" detect --sysfs-root "$DATA/sysfs/HB120rs_v3" \
	--os-release "$DATA/os-release/ubuntu-20.04" --kvp-pool "$DATA/kvp/none" --no-imds
expect_out "7c1d:00:02.0   15b3:1016  CX4     VF  ethernet   mlx5_an0  (not InfiniBand: ignored)"
expect_out "Decision:       unknown VM size (SR-IOV, ConnectX-6 (CX6) on the PCI bus) on Ubuntu 20.04 (20.04): needs a mlnx-ofed or rdma-core driver"

# --- --root: every system file under one folder; /etc/os-release a link as on real systems ---
R="$T/root"
mkdir -p "$R/etc" "$R/usr/lib" "$R/var/lib/hyperv"
cp -a "$DATA/sysfs/HB120rs_v2" "$R/sys"
cp "$DATA/os-release/ubuntu-22.04" "$R/usr/lib/os-release"
ln -s ../usr/lib/os-release "$R/etc/os-release"
cp "$DATA/kvp/H16r.kvp_pool_0" "$R/var/lib/hyperv/.kvp_pool_0"
expect_rc 0 "$INSTALL" detect --json --root "$R" --no-imds
expect_json '"id":"ubuntu","version":"22.04"'
expect_json '"nd_over_vmbus":true'
expect_json '"device":"101c"'
# A regular /etc/os-release is read before /usr/lib/os-release.
rm "$R/etc/os-release"
cp "$DATA/os-release/centos-7" "$R/etc/os-release"
expect_rc 0 "$INSTALL" detect --json --root "$R" --no-imds
expect_json '"id":"centos","version":"7"'
expect_rc 100 "$INSTALL" detect --json --root "$T/nothing-here" --no-imds
expect_err "cannot tell the OS"

# --- facts files ---
expect_rc 0 "$INSTALL" detect --json --facts "$T/hb120rs_v2.json"
if cmp -s "$T/out" "$T/hb120rs_v2.json"; then ok; else fail "facts round trip changed the JSON"; fi
cat >"$T/win.json" <<'JSON'
{"vm_size": "Standard_HB120rs_v2", "os": {"family": "windows", "product": "server", "version": "10.0.17763"}, "nics": [{"vendor": "15b3", "device": "101c", "virtual_function": true, "link_layer": "infiniband"}]}
JSON
IBDRV_FACTS="$T/win.json" expect_rc 0 "$INSTALL" detect
expect_out "VM size:        Standard_HB120rs_v2 (catalog: HDR InfiniBand, CX6, SR-IOV)"
expect_out "Decision:       Standard_HB120rs_v2 (HDR InfiniBand, SR-IOV, ConnectX-6 (CX6) on the PCI bus) on Windows Server 2019 (10.0.17763): needs a winof2 driver"
# --facts wins over the environment.
IBDRV_FACTS="$T/missing.json" expect_rc 0 "$INSTALL" detect --json --facts "$T/win.json"
expect_json '"product":"server"'

cat >"$T/nc.json" <<'JSON'
{"vm_size": "Standard_NC24rs_v3", "os": {"family": "windows", "product": "server", "version": "10.0.17763"}, "nics": []}
JSON
expect_rc 0 "$INSTALL" detect --facts "$T/nc.json"
expect_out "not supported (unsupported NIC): Standard_NC24rs_v3 (FDR InfiniBand, SR-IOV, ConnectX-3 Pro (CX3-Pro) per the catalog) on Windows Server 2019 (10.0.17763): CX3-Pro is not supported there (supported: CX5, CX6)"

printf '{"vm_size": "unknown", "os": {"family": "linux", "id": "ubuntu"}, "nics": [{"vendor": "15b3", "device": "101c", "virtual_function": "yes", "link_layer": "infiniband"}]}' >"$T/bad.json"
expect_rc 100 "$INSTALL" detect --facts "$T/bad.json"
expect_err "$T/bad.json: nics[0].virtual_function: expected true or false"
[ "$(wc -l <"$T/err")" -eq 1 ] && ok || fail "a bad facts file must give one line"
IBDRV_FACTS="$T/bad.json" expect_rc 100 "$INSTALL" detect --json
expect_err "$T/bad.json: nics[0].virtual_function"
expect_rc 100 "$INSTALL" detect --facts "$T/missing.json"
expect_err "$T/missing.json"

# --- catalog override ---
printf '{"format": 1, "sizes": [{"name": "Standard_HB120rs_v2", "ib_rate": "HDR", "nic": "CX7", "sriov": true, "source": "test"}], "os": []}' >"$T/catalog.json"
expect_rc 0 "$INSTALL" detect --facts "$T/win.json" --catalog "$T/catalog.json"
expect_out "(catalog: HDR InfiniBand, CX7, SR-IOV)"
expect_out "going by the hardware"
printf '{"format": 1, "sizes": [], "os": [], "extra": 1}' >"$T/badcat.json"
expect_rc 100 "$INSTALL" detect --facts "$T/win.json" --catalog "$T/badcat.json"
expect_err "$T/badcat.json: extra: unknown key"

# --- usage ---
expect_rc 100 "$INSTALL" detect --bogus
expect_err "unknown option '--bogus'"
expect_rc 100 "$INSTALL" detect --facts
expect_err "--facts needs a value"
expect_rc 0 "$INSTALL" detect --help
expect_out "--sysfs-root DIR"
for cmd in plan apply enable; do
	expect_rc 0 "$INSTALL" $cmd --help
	expect_out "usage: ibdrv-install COMMAND"
done
expect_rc 0 "$INSTALL" apply -h
expect_out "--allow-downgrade"

# --- the metadata service, served for real by nginx on loopback ---
start_nginx() {
	local n="$T/nginx" port try
	mkdir -p "$n/www/metadata/instance" "$n/www/slow/metadata/instance" \
		"$n/www/big/metadata/instance" "$n/www/bad/metadata/instance"
	printf '{"azEnvironment":"AzurePublicCloud","location":"southcentralus","name":"hpc-0","osType":"Linux","vmId":"0b6a8d35-0000-4000-8000-000000000000","vmSize":"Standard_HB120rs_v2","zone":""}' \
		>"$n/www/metadata/instance/compute"
	cp "$n/www/metadata/instance/compute" "$n/www/slow/metadata/instance/compute"
	{ printf '{"vmSize":"Standard_HB120rs_v2","tags":"'; head -c 100000 /dev/zero | tr '\0' x; printf '"}'; } \
		>"$n/www/big/metadata/instance/compute"
	printf 'vmSize: Standard_HB120rs_v2' >"$n/www/bad/metadata/instance/compute"
	for try in 1 2 3; do
		port=$(closed_port)
		cat >"$n/nginx.conf" <<CONF
daemon off;
master_process off;
pid $n/nginx.pid;
error_log $n/error.log;
events { worker_connections 64; }
http {
	access_log $n/access.log;
	client_body_temp_path $n/body;
	proxy_temp_path $n/proxy;
	fastcgi_temp_path $n/fastcgi;
	server {
		listen 127.0.0.1:$port;
		root $n/www;
		default_type application/json;
		# As the real service: the header is required, the API version checked.
		if (\$http_metadata != "true") { return 400; }
		if (\$args !~ "(^|&)api-version=2021-02-01(&|\$)") { return 400; }
		location /slow/ { limit_rate 1; }
		location /redirect/ { return 302 http://127.0.0.1:$port/metadata/instance/compute?api-version=2021-02-01; }
	}
}
CONF
		nginx -p "$n" -c "$n/nginx.conf" -e "$n/error.log" 2>>"$n/start.log" &
		NGINX_PID=$!
		for _ in $(seq 50); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				PORT=$port
				return 0
			fi
			kill -0 "$NGINX_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
		NGINX_PID=
	done
	cat "$n/start.log" "$n/error.log" >&2
	return 1
}

if ! start_nginx; then
	fail "nginx did not start"
	finish
	exit
fi
IMDS="http://127.0.0.1:$PORT/"

# The server refuses a request without the header, as the real service does.
code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "${IMDS}metadata/instance/compute?api-version=2021-02-01")
[ "$code" = 400 ] && ok || fail "nginx should refuse a request without Metadata: true (got $code)"

detect_fixture HB120rs_v2 ubuntu-20.04 none --imds-url "$IMDS"
expect_json '"vm_size":"Standard_HB120rs_v2"'
# Proxies from the environment are not used for the metadata service.
http_proxy="http://127.0.0.1:$CLOSED" HTTP_PROXY="http://127.0.0.1:$CLOSED" ALL_PROXY="http://127.0.0.1:$CLOSED" \
	detect_fixture HB120rs_v2 ubuntu-20.04 none --imds-url "${IMDS%/}"
expect_json '"vm_size":"Standard_HB120rs_v2"'
expect_rc 0 "$INSTALL" detect --sysfs-root "$DATA/sysfs/HB120rs_v2" \
	--os-release "$DATA/os-release/ubuntu-20.04" --kvp-pool "$DATA/kvp/none" --imds-url "$IMDS"
expect_out "Decision:       Standard_HB120rs_v2 (HDR InfiniBand, SR-IOV, ConnectX-6 (CX6) on the PCI bus) on Ubuntu 20.04 (20.04): needs a mlnx-ofed or rdma-core driver"

# An answer over 64 KiB, a redirect, a body that is not JSON: size unknown, and why.
detect_fixture HB120rs_v2 ubuntu-20.04 none --imds-url "${IMDS}big/"
expect_json '"vm_size":"unknown"'
expect_err "compute?api-version=2021-02-01: larger than 65536 bytes"
detect_fixture HB120rs_v2 ubuntu-20.04 none --imds-url "${IMDS}redirect/"
expect_json '"vm_size":"unknown"'
expect_err "compute?api-version=2021-02-01: HTTP 302"
detect_fixture HB120rs_v2 ubuntu-20.04 none --imds-url "${IMDS}bad/"
expect_json '"vm_size":"unknown"'
expect_err "not valid JSON"
expect_rc 0 "$INSTALL" detect --json --sysfs-root "$DATA/sysfs/H16r" --os-release "$DATA/os-release/ubuntu-20.04" \
	--kvp-pool "$DATA/kvp/none" --imds-url "https://127.0.0.1:$PORT/"
expect_err "VM size unknown"

# A server that trickles its answer: detection gives up after 5 s.
start=$EPOCHREALTIME
detect_fixture HB120rs_v2 ubuntu-20.04 none --imds-url "${IMDS}slow/"
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
expect_json '"vm_size":"unknown"'
expect_err "timed out"
if [ "$elapsed" -ge 4500 ] && [ "$elapsed" -lt 9000 ]; then ok; else
	fail "the metadata query should stop after 5 s, took ${elapsed} ms"
fi

finish
