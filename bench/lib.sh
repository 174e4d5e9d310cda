# Shared by the benchmarks: build, payload generation, timing with peak RSS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /var/tmp/ibdrv-bench.XXXXXX)}
SIZE_MIB=${SIZE_MIB:-512}
trap 'rm -rf "$BENCH_DIR"' EXIT

bench_setup() {
	"$ROOT/scripts/deps"
	command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
	cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$ROOT/build-bench" -j"$(nproc)" >/dev/null
	BUILD="$ROOT/build-bench/ibdrv-build"
	INSTALL="$ROOT/build-bench/ibdrv-install"
}

# make_payload DIR: SIZE_MIB of files, half compressible text, half random, and a manifest.
make_payload() {
	local dir=$1 half=$((SIZE_MIB / 2))
	mkdir -p "$dir/payload"
	head -c "${half}M" /dev/urandom >"$dir/payload/random.bin"
	{ base64 -w 76 </dev/urandom || true; } | head -c "${half}M" >"$dir/payload/text.txt"
	printf '#!/bin/sh\nexit 0\n' >"$dir/payload/install.sh"
	cat >"$dir/bundle.json" <<JSON
{
  "format": 1,
  "name": "bench",
  "sequence": 1,
  "drivers": [
    {
      "id": "bench-ofed",
      "platform": "linux",
      "kind": "mlnx-ofed",
      "version": "1.0",
      "os": [{"family": "linux", "id": "ubuntu", "version": "22.04"}],
      "nics": ["CX6"],
      "sriov": true,
      "source": "payload",
      "files": [{"path": "install.sh", "mode": "0755"}, {"path": "random.bin"}, {"path": "text.txt"}],
      "install": {"argv": ["sh", "install.sh"], "timeout_seconds": 600, "success_codes": [0], "reboot_codes": [194]}
    }
  ]
}
JSON
}

# timed NAME CMD...: runs CMD, records wall seconds in T_<NAME> and peak RSS KiB in RSS_<NAME>;
# fails, showing CMD's stderr, when CMD fails.
timed() {
	local name=$1 start end
	shift
	sync
	start=$(date +%s.%N)
	# What the program logs is shown only when it fails.
	/usr/bin/time -f '%M' -o "$BENCH_DIR/$name.rss" "$@" >/dev/null 2>"$BENCH_DIR/$name.err" ||
		{ cat "$BENCH_DIR/$name.err" >&2; return 1; }
	end=$(date +%s.%N)
	printf -v "T_$name" '%s' "$(echo "$end - $start" | bc -l)"
	printf -v "RSS_$name" '%s' "$(tail -n 1 "$BENCH_DIR/$name.rss")"
}

# For a pipeline baseline: peak RSS is the largest of its programs.
ratio() { echo "scale=3; $1 / $2" | bc -l; }

# median V...: the middle one of an odd number of values.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# Two cores make a single timing noisy (a few percent either way): the benchmarks that compare
# against a pipeline run ROUNDS rounds, baseline then ours each time, and judge the median ratio.
ROUNDS=${ROUNDS:-3}

# The VM the benchmarks install on: the bench driver is for CX6 on Ubuntu 22.04.
make_facts() {
	cat >"$1" <<'JSON'
{"vm_size": "Standard_HB120rs_v2", "os": {"family": "linux", "id": "ubuntu", "version": "22.04"},
 "nics": [{"vendor": "15b3", "device": "101c", "virtual_function": true, "link_layer": "infiniband"}]}
JSON
}
