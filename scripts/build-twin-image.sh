#!/usr/bin/env bash
# Builds the safetytwin twin VM image: Debian 12 (bookworm) by debootstrap from the Debian mirror
# this host's own apt configuration names (and through its apt proxy, if it has one), with systemd, qemu-guest-agent and python3 (for Ansible), the kernel and initrd
# extracted for direct boot, and the root filesystem as a qcow2 base image (ext4 on the whole disk,
# root=/dev/vda, no partition table, no bootloader).
#
# The result is cached under $TWIN_IMAGE_ROOT (default /var/lib/safetytwin-images)/<recipe hash>/
# and rebuilt only when the recipe (the section between the "recipe" markers below, plus the
# options that change the image) changes. Idempotent and safe to run concurrently (flock).
#
# Usage: build-twin-image.sh [--force] [--print-dir] [--ssh] [--root DIR] [--mirror URL]
#   --print-dir  print the cached image dir and exit 0, or exit 3 if it is not built yet
#   --force      rebuild even if the cache is valid
#   --ssh        also install openssh-server (not needed: the twin is driven via the guest agent)
#   --mirror URL the Debian archive to debootstrap from; default: the one this host's apt sources
#                use for bookworm main (`apt-get indextargets`), with apt's Acquire::http::Proxy.
# Environment: TWIN_IMAGE_ROOT, TWIN_IMAGE_MIRROR (same as --mirror).
# Last lines of stdout are KEY=VALUE: TWIN_IMAGE_DIR, TWIN_IMAGE_BASE, TWIN_IMAGE_KERNEL,
# TWIN_IMAGE_INITRD, TWIN_IMAGE_HASH, TWIN_IMAGE_BUILT (1 if built now, 0 if cached).
set -euo pipefail

ROOT="${TWIN_IMAGE_ROOT:-/var/lib/safetytwin-images}"
MIRROR="${TWIN_IMAGE_MIRROR:-}"
FORCE=0
PRINT_ONLY=0
WITH_SSH=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1 ;;
    --print-dir) PRINT_ONLY=1 ;;
    --ssh) WITH_SSH=1 ;;
    --root) ROOT="$2"; shift ;;
    --mirror) MIRROR="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-twin-image: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

SELF="$(readlink -f "$0")"
log() { printf '[build-twin-image] %s\n' "$*" >&2; }

# --- recipe begin (any change here changes the hash and triggers a rebuild) ---
SUITE=bookworm
VARIANT=minbase
IMAGE_SIZE=3G
PACKAGES=systemd,systemd-sysv,udev,dbus,kmod,qemu-guest-agent,python3,iproute2,procps,linux-image-amd64,initramfs-tools,zstd
configure_rootfs() {  # $1 = rootfs dir; runs on the host, chroots where needed
  local r="$1"
  echo twin > "$r/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 twin\n::1 localhost ip6-localhost ip6-loopback\n' \
    > "$r/etc/hosts"
  printf '/dev/vda / ext4 defaults,noatime 0 1\n' > "$r/etc/fstab"
  : > "$r/etc/machine-id"  # generated at first boot
  # No NIC by default. If the twin is given user-mode networking (to reach a mirror), DHCP it.
  mkdir -p "$r/etc/systemd/network"
  printf '[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n' > "$r/etc/systemd/network/50-dhcp.network"
  # networkd stays off (it costs ~14 s of boot under TCG); the driver adds
  # systemd.wants=systemd-networkd.service to the kernel command line when it gives a NIC.
  chroot "$r" systemctl disable systemd-networkd.service >/dev/null 2>&1 || true
  chroot "$r" systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true
  # The guest agent logs every guest-exec-status at info level into the journal; the driver
  # polls, so under TCG that logging alone eats the guest's CPU. Log to nowhere instead.
  mkdir -p "$r/etc/qemu"
  printf '[general]\nlogfile=/dev/null\n' > "$r/etc/qemu/qemu-ga.conf"
  # Modules a twin never needs; udev would load them at boot (seconds each under TCG).
  printf 'blacklist %s\n' kvm kvm_amd kvm_intel cfg80211 drm pcspkr ccp rfkill \
    > "$r/etc/modprobe.d/safetytwin-blacklist.conf"
  # Small initrd (direct boot on virtio): only what mounts root on /dev/vda.
  printf 'MODULES=list\n' > "$r/etc/initramfs-tools/conf.d/safetytwin"
  printf '%s\n' virtio_pci virtio_blk virtio_console ext4 >> "$r/etc/initramfs-tools/modules"
  mount -t proc proc "$r/proc"
  chroot "$r" update-initramfs -u -k all >/dev/null 2>&1 || { umount "$r/proc"; return 1; }
  umount "$r/proc"
  # Every daemon-reload (and `systemctl enable`) runs all generators; on a busy TCG guest a
  # reload took 40 s. The twin needs only fstab and getty: mask the rest (/dev/null in /etc).
  mkdir -p "$r/etc/systemd/system-generators"
  for g in cryptsetup debug gpt-auto hibernate-resume integritysetup rc-local run \
           system-update sysv veritysetup; do
    ln -sf /dev/null "$r/etc/systemd/system-generators/systemd-$g-generator"
  done
  # Boot speed under TCG: nothing periodic, journal in memory, no fsck of the fresh fs.
  for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
           fstrim.timer man-db.timer dpkg-db-backup.timer; do
    chroot "$r" systemctl mask "$u" >/dev/null 2>&1 || true
  done
  mkdir -p "$r/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n' \
    > "$r/etc/systemd/journald.conf.d/twin.conf"
  chroot "$r" systemctl set-default multi-user.target >/dev/null
  chroot "$r" passwd -l root >/dev/null
  # The guest agent is started by udev when the org.qemu.guest_agent.0 port appears.
  mkdir -p "$r/etc/safetytwin"
  echo "safetytwin twin image, recipe $RECIPE_HASH" > "$r/etc/safetytwin/image"
  # apt in the twin uses the host's Debian sources (the twin has no NIC unless given one).
  rm -f "$r/etc/apt/sources.list"
  printf '%s\n' "$TWIN_SOURCES" | while read -r uri suite; do
    [[ -n "$uri" ]] && printf 'deb %s %s main\n' "$uri" "$suite"
  done > "$r/etc/apt/sources.list.d/host.list"
  # Keep the image small: no apt lists or caches.
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
}
# --- recipe end ---

if [[ "$WITH_SSH" == 1 ]]; then PACKAGES="$PACKAGES,openssh-server"; fi

# The host's own Debian sources for a suite: "URI SUITE" lines, as apt itself resolves them
# (one-line and deb822 formats, sources.list.d, everything apt would use).
host_debian_sources() {
  apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' 2>/dev/null \
    | awk -v s="$1" '$3 == "main" && ($2 == s || $2 == s "-updates" || $2 == s "-security") { print $1, $2 }' \
    | sort -u
}
if [[ -z "$MIRROR" ]]; then
  MIRROR="$(host_debian_sources "$SUITE" | awk -v s="$SUITE" '$2 == s { print $1; exit }')"
  if [[ -z "$MIRROR" ]]; then
    log "this host's apt sources name no Debian archive with $SUITE main; pass --mirror URL"
    [[ "$PRINT_ONLY" == 1 ]] || exit 1
  fi
fi
# The twin's own apt sources (used only when it is given its optional NIC): the host's.
TWIN_SOURCES="$(host_debian_sources "$SUITE")"
[[ -n "$TWIN_SOURCES" ]] || TWIN_SOURCES="$MIRROR $SUITE"
RECIPE_HASH="$( { sed -n '/^# --- recipe begin/,/^# --- recipe end/p' "$SELF"; \
                  echo "packages=$PACKAGES"; echo "sources=$TWIN_SOURCES"; } | sha256sum | cut -c1-16)"
DIR="$ROOT/$RECIPE_HASH"

emit() {
  echo "TWIN_IMAGE_DIR=$DIR"
  echo "TWIN_IMAGE_BASE=$DIR/base.qcow2"
  echo "TWIN_IMAGE_KERNEL=$DIR/vmlinuz"
  echo "TWIN_IMAGE_INITRD=$DIR/initrd.img"
  echo "TWIN_IMAGE_HASH=$RECIPE_HASH"
  echo "TWIN_IMAGE_BUILT=$1"
}

valid() { [[ -f "$DIR/DONE" && -f "$DIR/base.qcow2" && -f "$DIR/vmlinuz" && -f "$DIR/initrd.img" ]]; }

if [[ "$PRINT_ONLY" == 1 ]]; then
  if valid; then emit 0; exit 0; fi
  log "no image for recipe $RECIPE_HASH under $ROOT"; exit 3
fi

mkdir -p "$ROOT"
chmod 0755 "$ROOT"
exec 9>"$ROOT/.lock"
if ! flock -n 9; then
  log "another build holds $ROOT/.lock; waiting"
  flock 9
fi

if valid && [[ "$FORCE" == 0 ]]; then
  log "cached: recipe $RECIPE_HASH at $DIR (built $(cat "$DIR/DONE")); nothing to do"
  ln -sfn "$RECIPE_HASH" "$ROOT/current"
  emit 0
  exit 0
fi

for tool in debootstrap mke2fs qemu-img; do
  command -v "$tool" >/dev/null || { log "missing $tool: run scripts/install-deps.sh"; exit 1; }
done
[[ "$(id -u)" == 0 ]] || { log "must run as root (debootstrap, chroot)"; exit 1; }

START=$(date +%s)
WORK="$(mktemp -d "$ROOT/.build-$RECIPE_HASH.XXXXXX")"
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$WORK/rootfs/$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
# The host's apt proxy, if it has one, for debootstrap's downloads too.
eval "$(apt-config shell APT_HTTP_PROXY Acquire::http::Proxy APT_HTTPS_PROXY Acquire::https::Proxy)"
if [[ -n "${APT_HTTP_PROXY:-}" && -z "${http_proxy:-}" ]]; then export http_proxy="$APT_HTTP_PROXY"; fi
if [[ -n "${APT_HTTPS_PROXY:-}" && -z "${https_proxy:-}" ]]; then export https_proxy="$APT_HTTPS_PROXY"; fi
log "building recipe $RECIPE_HASH: debootstrap $SUITE ($VARIANT) from $MIRROR into $WORK"
log "packages: $PACKAGES"
debootstrap --variant="$VARIANT" --include="$PACKAGES" "$SUITE" "$WORK/rootfs" "$MIRROR" \
  > "$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; \
    log "debootstrap failed (log above)"; exit 1; }
T_DEBOOTSTRAP=$(( $(date +%s) - START ))
log "debootstrap done in ${T_DEBOOTSTRAP}s"

configure_rootfs "$WORK/rootfs"

# Direct boot: kernel and initrd live outside the disk image.
KERNEL="$(ls -1 "$WORK"/rootfs/boot/vmlinuz-* | sort -V | tail -n1)"
INITRD="$(ls -1 "$WORK"/rootfs/boot/initrd.img-* | sort -V | tail -n1)"
[[ -f "$KERNEL" && -f "$INITRD" ]] || { log "kernel or initrd missing in rootfs/boot"; exit 1; }
mkdir -p "$WORK/out"
cp "$KERNEL" "$WORK/out/vmlinuz"
cp "$INITRD" "$WORK/out/initrd.img"
basename "$KERNEL" > "$WORK/out/kernel-version"

# Filesystem from the directory without mounting anything (mke2fs -d), then qcow2.
truncate -s "$IMAGE_SIZE" "$WORK/root.raw"
mke2fs -q -t ext4 -L twinroot -E root_owner=0:0 -d "$WORK/rootfs" "$WORK/root.raw"
qemu-img convert -q -f raw -O qcow2 "$WORK/root.raw" "$WORK/out/base.qcow2"
rm -f "$WORK/root.raw"
sed -n '/^# --- recipe begin/,/^# --- recipe end/p' "$SELF" > "$WORK/out/recipe.txt"
echo "packages=$PACKAGES" >> "$WORK/out/recipe.txt"
echo "sources=$TWIN_SOURCES" >> "$WORK/out/recipe.txt"
cp "$WORK/debootstrap.log" "$WORK/out/debootstrap.log"
date -u +%Y-%m-%dT%H:%M:%SZ > "$WORK/out/DONE"
chmod 0644 "$WORK"/out/*

rm -rf "$DIR"
mv "$WORK/out" "$DIR"
ln -sfn "$RECIPE_HASH" "$ROOT/current"
TOTAL=$(( $(date +%s) - START ))
log "built $DIR in ${TOTAL}s (debootstrap ${T_DEBOOTSTRAP}s); base $(du -h "$DIR/base.qcow2" | cut -f1), kernel $(cat "$DIR/kernel-version")"
emit 1
