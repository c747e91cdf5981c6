#!/usr/bin/env bash
# The KVM lab: runs COMMAND where a real /dev/kvm exists, on machines that have none.
#
#   tests/kvm-lab/run.sh [--timeout SECONDS] [--mem MIB] [--cpus N] [--share DIR]...
#                        [--verbose] [--prepare] -- COMMAND [ARGS...]
#
# It boots Debian's stock kernel under QEMU's software emulator (TCG) with an emulated AMD CPU
# that has SVM and nested paging, loads kvm-amd there, and runs COMMAND in a chroot of this
# machine's root (shared read-only over 9p) with the caller's cwd and environment. Each --share
# DIR is shared writable at the same absolute path (for results and scratch); everything else
# the command writes is lost with the VM (/tmp, /run, /var/tmp are tmpfs).
#
# COMMAND's stdout and stderr arrive on ours; the lab's own boot messages do not (they go to a
# console log, shown with --verbose and on any lab failure). The exit status is COMMAND's, or
# when the lab itself fails, with the reason on stderr:
#   124  timeout (QEMU killed)
#   125  the lab could not be prepared on the host (QEMU missing, package download failed, ...)
#   123  the lab VM failed (did not boot, no /dev/kvm inside, a mount failed, QEMU crashed)
#
# --prepare fetches and builds the lab's inputs without booting (no COMMAND needed).
# Inputs (Debian's linux-image-6.1.0-*-amd64 and busybox-static) are fetched with apt-get
# download into $BERTH_LAB_CACHE (default /var/cache/berth/kvm-lab), unpacked with dpkg-deb,
# never installed. The initramfs is built there too, keyed by a hash of its inputs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BERTH_LAB_CACHE:-/var/cache/berth/kvm-lab}
timeout=600
mem=3072
# One vCPU: QEMU's TCG runs each vCPU in its own host thread, and these machines have two cores
# shared with other work; two vCPUs booted ~2 s slower and used 1.5x the host CPU
# (docs/testing.md has the measurement).
cpus=1
shares=()
verbose=0
prepare_only=0

EXIT_TIMEOUT=124
EXIT_HOST=125
EXIT_LAB=123

usage() {
  sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
host_fail() {
  echo "kvm-lab: cannot start the lab: $*" >&2
  exit $EXIT_HOST
}

while (($#)); do
  case "$1" in
  --timeout) timeout=${2:?}; shift 2 ;;
  --mem) mem=${2:?}; shift 2 ;;
  --cpus) cpus=${2:?}; shift 2 ;;
  --share) shares+=("$(realpath -e "${2:?}")") || host_fail "--share $2: no such directory"; shift 2 ;;
  --verbose) verbose=1; shift ;;
  --prepare) prepare_only=1; shift ;;
  --) shift; break ;;
  -h | --help) usage ;;
  *) echo "kvm-lab: unknown option $1" >&2; usage ;;
  esac
done
(($# > 0)) || ((prepare_only)) || usage
# The lab mounts tmpfs on /tmp, /run and /var/tmp, which would hide a caller working under them
# (a CI clone in /tmp, ctest's cwd in its build tree): share that top-level directory writable
# unless a --share already covers it.
for masked in /tmp /run /var/tmp; do
  case "$PWD/" in
  "$masked"/?*/)
    rest=${PWD#"$masked"/}
    top="$masked/${rest%%/*}"
    covered=0
    for d in "${shares[@]}"; do
      case "$top/" in "$d"/*) covered=1 ;; esac
    done
    ((covered)) || shares+=("$(realpath -e "$top")")
    break
    ;;
  esac
done
for d in "${shares[@]}"; do
  [ -d "$d" ] || host_fail "--share $d is not a directory"
  case "$d" in
  / | /proc* | /sys* | /dev*) host_fail "--share $d: cannot share that path writable" ;;
  esac
done

command -v qemu-system-x86_64 >/dev/null ||
  host_fail "qemu-system-x86_64 not found; install qemu-system-x86 (deploy/install-deps.sh)"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
  host_fail "apt-get and dpkg-deb are needed to fetch the lab's kernel (Debian only)"

mkdir -p "$cache" || host_fail "cannot create the cache $cache"
# Concurrent runs (ctest -j) share the cache: only one of them fetches and builds.
exec 8>"$cache/.lock"
flock 8

# --- Inputs: fetched once, unpacked once ------------------------------------------------------

# fetch PACKAGE: prints the path of PACKAGE's .deb in the cache, downloading it if needed.
fetch() {
  local pkg=$1 deb
  deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1) || true
  if [ -z "$deb" ]; then
    mkdir -p "$cache/debs"
    # Sandbox user root: apt's _apt user cannot write into a root-owned cache.
    (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
      host_fail "apt-get download $pkg failed (is deb.debian.org reachable? apt-get update?)"
    deb=$(ls "$cache/debs/${pkg}_"*.deb | sort -V | tail -n 1)
  fi
  echo "$deb"
}
# unpack DEB: prints the directory DEB is unpacked in, unpacking it aside and renaming if needed.
unpack() {
  local deb=$1 dir
  dir=$cache/unpacked/$(basename "$deb" .deb)
  if [ ! -d "$dir" ]; then
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    dpkg-deb -x "$deb" "$dir.tmp" || host_fail "dpkg-deb -x $deb failed"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

# The newest linux-image-6.1.0-N-amd64 apt knows about, re-read only when apt's lists change
# (apt-cache takes seconds on a busy machine).
pick_kernel_package() {
  local stamp=$cache/kernel-package
  if [ ! -s "$stamp" ] || [ /var/lib/apt/lists -nt "$stamp" ]; then
    apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
      grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -n 1 >"$stamp.tmp" || true
    [ -s "$stamp.tmp" ] || {
      rm -f "$stamp.tmp"
      host_fail "apt-cache knows no linux-image-6.1.0-*-amd64 (run apt-get update)"
    }
    mv "$stamp.tmp" "$stamp"
  fi
  cat "$stamp"
}

kernel_pkg=$(pick_kernel_package)
kernel_dir=$(unpack "$(fetch "$kernel_pkg")")
busybox_dir=$(unpack "$(fetch busybox-static)")
kver=${kernel_pkg#linux-image-}
vmlinuz=$kernel_dir/boot/vmlinuz-$kver
moddir=$kernel_dir/lib/modules/$kver
[ -f "$vmlinuz" ] || host_fail "$vmlinuz missing from $kernel_pkg"

# Boot the uncompressed ELF vmlinux through its PVH entry (Debian builds CONFIG_PVH=y) rather
# than the bzImage: decompressing Debian's 8 MB xz bzImage takes the emulated CPU 8-10 s of
# every run, unpacking it once here takes 1 s. Falls back to the bzImage if extraction fails.
kernel_image=$cache/vmlinux-$kver
if [ ! -f "$kernel_image" ]; then
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1) || true
  if [ -n "$off" ]; then
    # xz complains about the bytes after its stream; the ELF check below is what counts.
    tail -c +$((off + 1)) "$vmlinuz" | xz -dcq >"$kernel_image.tmp" 2>/dev/null || true
  fi
  if [ "$(head -c 4 "$kernel_image.tmp" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$kernel_image.tmp" "$kernel_image"
  else
    rm -f "$kernel_image.tmp"
    echo "kvm-lab: note: cannot extract vmlinux from $vmlinuz; booting the bzImage (slower)" >&2
    kernel_image=$vmlinuz
  fi
fi
[ -x "$busybox_dir/bin/busybox" ] || host_fail "bin/busybox missing from busybox-static"

# --- The lab initramfs, rebuilt when any input changes -------------------------------------------
key=$( (
  cat "$here/init.sh" "$here/modules.list" "$0"
  echo "$kernel_dir $busybox_dir"
) | sha256sum | cut -c1-16)
initrd=$cache/lab-$key.cpio.gz
build_initramfs() {
  # Modules in dependency order. The package has no modules.dep (depmod runs at install time,
  # and kmod is not on every host), so dependencies come from each module's .modinfo "depends=".
  local f name m
  declare -A modpath=() loaded=()
  while IFS= read -r f; do
    name=${f##*/}
    name=${name%.ko}
    modpath[${name//-/_}]=$f
  done < <(find "$moddir/kernel" -name '*.ko')
  local order=()
  add_module() { # depth-first: dependencies first
    local name=${1//-/_} dep deps
    [ -n "${loaded[$name]:-}" ] && return 0
    [ -n "${modpath[$name]:-}" ] || host_fail "module $1 is not in $kernel_pkg"
    loaded[$name]=1
    deps=$(tr '\0' '\n' <"${modpath[$name]}" | sed -n 's/^depends=//p' | head -n 1)
    for dep in ${deps//,/ }; do add_module "$dep"; done
    order+=("$name")
  }
  while read -r m; do
    case "$m" in '' | '#'*) continue ;; esac
    add_module "$m"
  done <"$here/modules.list"

  local root
  root=$(mktemp -d "$cache/initramfs.XXXXXX")
  mkdir -p "$root/bin" "$root/lib/modules" "$root/dev"
  cp "$busybox_dir/bin/busybox" "$root/bin/busybox"
  install -m 755 "$here/init.sh" "$root/init"
  for m in "${order[@]}"; do cp "${modpath[$m]}" "$root/lib/modules/$m.ko"; done
  printf '%s\n' "${order[@]}" >"$root/modules.order"
  mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true # init copes without it
  (cd "$root" && find . | cpio -o -H newc --quiet -R 0:0 | gzip -1 >"$initrd.tmp") ||
    host_fail "building the initramfs failed"
  mv "$initrd.tmp" "$initrd"
  rm -rf "$root"
  # Older initramfs files are a few MB each; keep only the current one.
  find "$cache" -maxdepth 1 -name 'lab-*.cpio.gz' ! -name "lab-$key.cpio.gz" -delete
}
[ -f "$initrd" ] || build_initramfs
flock -u 8
if ((prepare_only)); then
  echo "kvm-lab: ready ($kernel_pkg, $initrd)" >&2
  exit 0
fi

# --- The run ---------------------------------------------------------------------------------------
run=$(mktemp -d /tmp/kvm-lab.XXXXXX)
qemu_pid=
relays=()
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
  ((${#relays[@]})) && kill "${relays[@]}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$run/ctl/in"

# job.sh runs under the host's bash inside the chroot: the caller's exported environment (as
# `export -p` prints it, quoted for bash), the caller's cwd, then the command.
{
  echo "# written by tests/kvm-lab/run.sh"
  export -p | grep -vE '^declare -x (BASH_[A-Z_]*|SHLVL|OLDPWD|_)='
  echo "export KVM_LAB=1"
  printf 'cd %q 2>/dev/null || { echo "kvm-lab: %q does not exist in the lab (share it?); running in /" >&2; cd /; }\n' "$PWD" "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$run/ctl/in/job.sh"
printf '%s\n' "${shares[@]}" >"$run/ctl/in/shares"

ninep=(-virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$run/ctl,mount_tag=ctl,security_model=none,multidevs=remap")
for i in "${!shares[@]}"; do
  # QEMU's option syntax: a comma inside a value is written twice.
  ninep+=(-virtfs "local,path=${shares[$i]//,/,,},mount_tag=share$i,security_model=none,multidevs=remap")
done

# ttyS1/ttyS2 -> FIFOs -> our stdout/stderr: works whatever our stdout is (tty, pipe, file).
mkfifo "$run/out" "$run/err"
cat "$run/out" &
relays+=($!)
cat "$run/err" >&2 &
relays+=($!)
# QEMU's own messages (TCG's warnings about CPUID features it cannot emulate, every run) are
# boot noise too: kept aside and shown on failure.
if ((verbose)); then
  console=(-chardev "file,id=con,path=/dev/stderr,append=on")
  qemu_log=/dev/stderr
else
  console=(-chardev "file,id=con,path=$run/console.log")
  qemu_log=$run/qemu.log
fi

start=$(date +%s.%N)
# -no-reboot: the lab's poweroff or a panic (panic=-1 reboots) ends QEMU. -nic none: no network
# leaves the machine. mitigations=off: speculation mitigations only slow an emulated CPU down.
timeout --kill-after=10 "$timeout" qemu-system-x86_64 \
  -accel tcg -cpu EPYC,+svm,+npt -m "$mem" -smp "$cpus" \
  -nographic -monitor none -no-reboot -nic none \
  -kernel "$kernel_image" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet mitigations=off" \
  "${console[@]}" -serial chardev:con \
  -chardev "file,id=out,path=$run/out" -serial chardev:out \
  -chardev "file,id=err,path=$run/err" -serial chardev:err \
  "${ninep[@]}" </dev/null 2>>"$qemu_log" &
qemu_pid=$!
qrc=0
wait "$qemu_pid" || qrc=$?
qemu_pid=
# A relay whose FIFO QEMU never opened (it failed to start) still waits in open(): a read-write
# open counts as the writer it waits for, and closing it gives the relay its end of file.
for f in "$run/out" "$run/err"; do
  exec 3<>"$f"
  exec 3>&-
done
wait "${relays[@]}" 2>/dev/null || true
relays=()
end=$(date +%s.%N)

show_console() {
  ((verbose)) && return 0
  if grep -qv 'TCG doesn.t support requested feature' "$run/qemu.log"; then
    echo "kvm-lab: QEMU said:" >&2
    grep -v 'TCG doesn.t support requested feature' "$run/qemu.log" | tail -n 10 | sed 's/^/  | /' >&2
  fi
  echo "kvm-lab: last lines of the lab's console:" >&2
  tail -n 25 "$run/console.log" | tr -d '\r' | sed 's/^/  | /' >&2
}
ctl=$run/ctl
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  if [ -f "$ctl/t-start" ]; then
    echo "kvm-lab: timeout after ${timeout}s: the command was still running; QEMU killed" >&2
  else
    echo "kvm-lab: timeout after ${timeout}s before the command started; QEMU killed" >&2
    show_console
  fi
  exit $EXIT_TIMEOUT
fi
if [ -f "$ctl/lab-error" ]; then
  echo "kvm-lab: the lab failed: $(cat "$ctl/lab-error")" >&2
  show_console
  exit $EXIT_LAB
fi
if [ ! -f "$ctl/status" ]; then
  if [ -f "$ctl/t-start" ]; then
    echo "kvm-lab: the lab stopped while the command ran (QEMU exit $qrc): no exit status" >&2
  else
    echo "kvm-lab: the lab did not come up (QEMU exit $qrc)" >&2
  fi
  show_console
  exit $EXIT_LAB
fi
rc=$(cat "$ctl/status")
if ((verbose)) || [ -n "${BERTH_LAB_TIMES:-}" ]; then
  awk -v b="$(cat "$ctl/t-booted")" -v s="$(cat "$ctl/t-start")" -v e="$(cat "$ctl/t-end")" \
    -v w0="$start" -v w1="$end" -v rc="$rc" 'BEGIN {
      printf "kvm-lab: guest uptime %.2f s at boot, %.2f s at command start; command %.2f s; " \
        "wall %.2f s in all; exit %d\n", b, s, e - s, w1 - w0, rc }' >&2
fi
exit "$rc"
