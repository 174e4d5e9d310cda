#!/bin/sh
# Demo stand-in for the MLNX_OFED 23.10-3.2.2.0 installer. It is synthetic: it
# installs nothing, it records what the real installer would install.
#
# A real bundle carries the vendor's tarball for each distribution and runs
#   MLNX_OFED_LINUX-23.10-3.2.2.0-<distro>-x86_64/mlnxofedinstall --force --without-fw-update
# (exit 0 done, 1 failed, 171 not applicable to this system, 172 prerequisites
# missing); the new kernel modules load after "/etc/init.d/openibd restart" or
# a reboot.
#
# Environment:
#   IBDRV_ROOT         prefix of every path read or written (unset or empty:
#                      the real root)
#   IBDRV_DEMO_REBOOT  "1": exit with the reboot-required code
# Writes $IBDRV_ROOT/var/lib/ibdrv-demo/installed-mlnx-ofed-23.10-3.2.2.0
# (no date in it: the same run always writes the same bytes).
# Exit codes: 0 done; 194 done, reboot required; anything else failed.
# Windows says "reboot required" with 3010, which does not fit in the 8 bits of
# a POSIX exit status; 194 is what 3010 becomes there (3010 mod 256), and the
# manifest lists it as this driver's reboot code.
set -eu

kind=mlnx-ofed
version=23.10-3.2.2.0
here=$(dirname -- "$0")
root=${IBDRV_ROOT:-}
dest=$root/var/lib/ibdrv-demo
record=$dest/installed-$kind-$version

# The vendor builds one tarball per distribution release; RHEL rebuilds
# (AlmaLinux, Rocky) take the RHEL one.
os_id=
os_version=
if [ -r "$root/etc/os-release" ]; then
	os_id=$(sed -n 's/^ID=//p' "$root/etc/os-release" | tr -d "\"'")
	os_version=$(sed -n 's/^VERSION_ID=//p' "$root/etc/os-release" | tr -d "\"'")
fi
case $os_id in
ubuntu) distro=ubuntu$os_version ;;
rhel | almalinux | rocky) distro=rhel$os_version ;;
*) distro=unknown ;;
esac

mkdir -p -- "$dest"
tmp=$record.tmp.$$
trap 'rm -f -- "$tmp"' EXIT
{
	echo "driver: $kind $version"
	echo "package: MLNX_OFED_LINUX-$version-$distro-x86_64"
	echo "command: mlnxofedinstall --force --without-fw-update"
	sed -e '/^#/d' -e '/^$/d' -e 's/^/install: /' "$here/packages.txt"
} >"$tmp"
mv -f -- "$tmp" "$record"
echo "ibdrv-demo: recorded $record"

if [ "${IBDRV_DEMO_REBOOT:-}" = 1 ]; then
	exit 194
fi
exit 0
