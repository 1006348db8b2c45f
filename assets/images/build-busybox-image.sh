#!/bin/sh
# Builds a tiny image in LXD's unified format (one tarball holding metadata.yaml and
# rootfs/) from busybox-static: a root filesystem of one static binary and its applet
# links, with an init that waits and a shell. Corral's tests import it and run it as a
# container; anyone can: 'corral image import busybox.tar.gz --alias busybox'.
#
# Usage: build-busybox-image.sh OUTPUT.tar.gz
#
# The busybox used is /bin/busybox when it is the static one (Debian's busybox-static
# package installs it there); otherwise the package is fetched with 'apt-get download'
# and unpacked with 'dpkg-deb -x' (no root needed, nothing installed). The tarball is
# reproducible: the same busybox gives the same bytes, so the same fingerprint.
set -eu

out=${1:?usage: build-busybox-image.sh OUTPUT.tar.gz}
work=$(mktemp -d "${TMPDIR:-/tmp}/corral-image.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

is_static() {
    [ -x "$1" ] || return 1
    # A static binary has no program interpreter; ldd says so in one of two ways.
    case "$(LC_ALL=C ldd "$1" 2>&1 || true)" in
        *"not a dynamic executable"* | *"statically linked"*) return 0 ;;
    esac
    return 1
}

busybox=/bin/busybox
if ! is_static "$busybox"; then
    command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || {
        echo "build-busybox-image: no static busybox at /bin/busybox, and no apt-get/dpkg-deb to fetch one: install busybox-static ('apt-get install busybox-static')" >&2
        exit 1
    }
    (cd "$work" && apt-get download busybox-static >/dev/null) || {
        echo "build-busybox-image: 'apt-get download busybox-static' failed: run 'apt-get update' first, or install busybox-static" >&2
        exit 1
    }
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/deb"
    busybox="$work/deb/bin/busybox"
    is_static "$busybox" || {
        echo "build-busybox-image: the busybox-static package holds no static /bin/busybox" >&2
        exit 1
    }
fi

root="$work/image/rootfs"
mkdir -p "$root"
for d in bin sbin usr/bin usr/sbin etc dev proc sys tmp run root var/log; do
    mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
# One link per applet, where busybox says it belongs (bin/sh, sbin/init, usr/bin/env...).
"$root/bin/busybox" --list-full | while read -r applet; do
    case "$applet" in
        bin/busybox | "") continue ;;
    esac
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

cat >"$root/etc/inittab" <<'INITTAB'
# busybox init: nothing to start; it reaps orphans and waits. SIGTERM stops the container
# (busybox init reboots, which in a PID namespace ends it).
::sysinit:/bin/true
::shutdown:/bin/true
INITTAB
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'busybox\n' >"$root/etc/hostname"
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
version=$("$root/bin/busybox" | head -n 1 | sed -n 's/^BusyBox v\([0-9.]*\).*/\1/p')
version=${version:-unknown}
cat >"$root/etc/os-release" <<OSRELEASE
NAME="Corral busybox"
ID=busybox
VERSION_ID="$version"
PRETTY_NAME="Corral test image (busybox $version)"
OSRELEASE

arch=$(uname -m)
cat >"$work/image/metadata.yaml" <<METADATA
architecture: $arch
creation_date: 1764547200
properties:
  architecture: $arch
  description: Corral test image (busybox $version)
  os: busybox
  release: "$version"
  variant: static
templates: {}
METADATA

# Reproducible: sorted names, fixed times and owners, gzip without a name or time stamp.
tmp_out="$out.tmp.$$"
(cd "$work/image" && tar --sort=name --mtime=@1764547200 --owner=0 --group=0 --numeric-owner \
    -cf - metadata.yaml rootfs) | gzip -n -9 >"$tmp_out"
mv -f "$tmp_out" "$out"
