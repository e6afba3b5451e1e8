# Shared by tools/test_aarch64.sh and tools/smoke_wheel.sh (sourced, not run): the Debian mirror
# the host's apt uses, and /proc and /dev mounted into a chroot for as long as the script runs.

# host_debian_mirror: the first Debian mirror in the host's apt sources, else deb.debian.org.
host_debian_mirror() {
  local m
  m=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
      2>/dev/null | head -1 | awk '{print $2}' || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# mount_chroot_fs ROOT: mounts proc and binds /dev into ROOT (unless already mounted) and
# unmounts what it mounted when the calling script exits.
CHROOT_MOUNTED=()
unmount_chroot_fs() { for m in "${CHROOT_MOUNTED[@]}"; do umount "$m" 2>/dev/null || true; done; }
mount_chroot_fs() {
  local root=$1 m
  trap unmount_chroot_fs EXIT
  for m in proc dev; do
    if ! mountpoint -q "$root/$m"; then
      if [ $m = proc ]; then mount -t proc proc "$root/proc"; else mount --bind /dev "$root/dev"; fi
      CHROOT_MOUNTED=("$root/$m" "${CHROOT_MOUNTED[@]}")
    fi
  done
}
