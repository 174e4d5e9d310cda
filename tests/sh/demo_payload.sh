#!/usr/bin/env bash
# The demo bundle's Linux install command: a POSIX sh script that records what
# it would install under IBDRV_ROOT and exits 0, or 194 (reboot required).
source "$(dirname "$0")/lib.sh"

DRV="$SRC/manifests/demo/linux/mlnx-ofed"
RECORD=var/lib/ibdrv-demo/installed-mlnx-ofed-23.10-3.2.2.0

# Run it the way the manifest says (argv /bin/sh install.sh, in the driver's folder),
# under dash and bash's POSIX mode alike.
n=0
for shell in /bin/sh "bash --posix" dash; do
	command -v ${shell%% *} >/dev/null || continue
	n=$((n + 1))
	root="$T/root$n"
	mkdir -p "$root/etc"
	printf 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\n' >"$root/etc/os-release"

	expect_rc 0 env -C "$DRV" IBDRV_ROOT="$root" $shell install.sh
	expect_out "recorded $root/$RECORD"
	if [ -f "$root/$RECORD" ]; then ok; else fail "$shell: no record at $root/$RECORD"; fi
	if grep -qx 'driver: mlnx-ofed 23.10-3.2.2.0' "$root/$RECORD" &&
		grep -qx 'package: MLNX_OFED_LINUX-23.10-3.2.2.0-ubuntu22.04-x86_64' "$root/$RECORD" &&
		grep -qx 'install: rdma-core' "$root/$RECORD"; then ok; else
		fail "$shell: unexpected record:"
		sed 's/^/    /' "$root/$RECORD" >&2
	fi
	if grep -q '^#\|^install: $' "$root/$RECORD"; then fail "comments or blanks recorded"; else ok; fi
	cp "$root/$RECORD" "$T/first"

	# Same run, same bytes (no dates); reboot-required is 194, the 8-bit form of 3010.
	expect_rc 194 env -C "$DRV" IBDRV_ROOT="$root" IBDRV_DEMO_REBOOT=1 $shell install.sh
	if cmp -s "$T/first" "$root/$RECORD"; then ok; else fail "$shell: record changed between runs"; fi
	if ls "$root/var/lib/ibdrv-demo" | grep -q tmp; then fail "temporary file left"; else ok; fi
done

# RHEL rebuilds get the RHEL tarball; an unknown OS is recorded as such.
root="$T/alma"
mkdir -p "$root/etc"
printf 'ID="almalinux"\nVERSION_ID="9.4"\n' >"$root/etc/os-release"
expect_rc 0 env -C "$DRV" IBDRV_ROOT="$root" /bin/sh install.sh
if grep -qx 'package: MLNX_OFED_LINUX-23.10-3.2.2.0-rhel9.4-x86_64' "$root/$RECORD"; then ok; else
	fail "almalinux: wrong package"
fi
root="$T/bare"
expect_rc 0 env -C "$DRV" IBDRV_ROOT="$root" /bin/sh install.sh
if grep -qx 'package: MLNX_OFED_LINUX-23.10-3.2.2.0-unknown-x86_64' "$root/$RECORD"; then ok; else
	fail "no os-release: wrong package"
fi

# Run from elsewhere by path, it still finds its packages list.
root="$T/elsewhere"
expect_rc 0 env -C "$T" IBDRV_ROOT="$root" /bin/sh "$DRV/install.sh"
if grep -qx 'install: perftest' "$root/$RECORD"; then ok; else fail "run by path: list missing"; fi

# A root it cannot write to is a failure, not a success.
expect_rc 1 env -C "$DRV" IBDRV_ROOT=/proc/ibdrv-no-such-root /bin/sh install.sh

finish
