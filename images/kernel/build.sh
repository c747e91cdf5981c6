#!/usr/bin/env bash
# Builds berth's microVM guest kernel from Debian's linux-source-6.1 and our Kconfig fragment
# (images/kernel/microvm.config), and prints the path of the resulting bzImage on stdout (the
# only thing on stdout, so callers can do `kernel=$(images/kernel/build.sh)`); progress, size
# and timings go to stderr.
#
# Results are cached outside the build tree in $BERTH_KERNEL_CACHE (default
# /var/cache/berth/kernel) under a key hashing the fragment, the linux-source package version and
# this script: <cache>/<key>/{bzImage,vmlinux,config}. With unchanged inputs a second run prints
# the cached path at once. A build happens in a scratch directory and its result is renamed into
# place only when complete, so a failed or interrupted build never leaves a half result.
#
# Usage: images/kernel/build.sh [--force]     (--force rebuilds even if cached)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/microvm.config
cache=${BERTH_KERNEL_CACHE:-/var/cache/berth/kernel}
source_pkg=linux-source-6.1
source_tar=/usr/src/linux-source-6.1.tar.xz
jobs=${BERTH_KERNEL_JOBS:-2} # the build machines have 2 cores shared with other work
force=0
[ "${1:-}" = "--force" ] && force=1

die() {
  echo "kernel/build.sh: $*" >&2
  exit 1
}
log() { echo "kernel/build.sh: $*" >&2; }

# The source version goes into the cache key: a Debian security update of linux-source must
# produce a new kernel, not silently reuse one built from the old tree.
version=$(dpkg-query -W -f='${Version}' "$source_pkg" 2>/dev/null) || true
[ -n "$version" ] && [ -f "$source_tar" ] ||
  die "$source_pkg is not installed ($source_tar missing); run deploy/install-deps.sh"
for tool in make gcc flex bison bc zstd; do
  command -v "$tool" >/dev/null || die "'$tool' not found; run deploy/install-deps.sh"
done
[ -f /usr/include/libelf.h ] || die "libelf-dev is not installed; run deploy/install-deps.sh"

key=$( (
  cat "$fragment"
  echo "$source_pkg $version"
  cat "$0"
) | sha256sum | cut -c1-16)
out=$cache/$key

report() {
  local size
  size=$(stat -c %s "$out/bzImage")
  log "bzImage $((size / 1024)) KiB ($size bytes), key $key, $source_pkg $version"
  echo "$out/bzImage"
}

if [ "$force" = 0 ] && [ -f "$out/bzImage" ]; then
  report
  exit 0
fi

mkdir -p "$cache"
# One build at a time per cache: deploy/build.sh and a CTest run may both ask for the kernel.
exec 9>"$cache/.lock"
flock 9
if [ "$force" = 0 ] && [ -f "$out/bzImage" ]; then # built by whoever held the lock before us
  report
  exit 0
fi

# The unpacked tree (~1.3 GB) is shared by every configuration of one source version and never
# written to: builds go to a separate object directory (make O=...).
src=$cache/src/$source_pkg-$version
if [ ! -f "$src/Makefile" ]; then
  log "unpacking $source_tar into $src (once per source version, ~1 min)"
  rm -rf "$src.tmp"
  mkdir -p "$src.tmp"
  tar -xJf "$source_tar" -C "$src.tmp" --strip-components=1
  mv "$src.tmp" "$src"
fi

# One object directory per source version, reused across configurations: Kbuild tracks which
# CONFIG_ options each object depends on, so changing the fragment recompiles only what it
# touches. It is scratch; the result directory is what callers use.
obj=$cache/obj/$source_pkg-$version
mkdir -p "$obj"
logfile=$cache/build-$key.log
: >"$logfile"
kmake() { make -C "$src" O="$obj" ARCH=x86_64 "$@" >>"$logfile" 2>&1; }
fail() {
  echo "kernel/build.sh: $1; last lines of $logfile:" >&2
  tail -n 30 "$logfile" >&2
  exit 1
}

start=$(date +%s)
log "building key $key with -j$jobs (a first build: ~9 min on 2 idle cores, far longer on busy ones; log: $logfile)"
kmake tinyconfig || fail "make tinyconfig failed"
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment" >>"$logfile" 2>&1 ||
  fail "merge_config.sh failed"
kmake olddefconfig || fail "make olddefconfig failed"

# merge_config.sh only warns when olddefconfig drops an option whose dependencies are unmet;
# a guest without, say, MEMCG would boot and fail much later, so every line must hold.
mismatch=()
while IFS= read -r line; do
  case "$line" in
  CONFIG_*=n)
    name=${line%%=*}
    grep -q "^$name=" "$obj/.config" && mismatch+=("$line (got $(grep "^$name=" "$obj/.config"))")
    ;;
  CONFIG_*=*)
    grep -qxF "$line" "$obj/.config" ||
      mismatch+=("$line (got $(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo unset))")
    ;;
  "# CONFIG_"*" is not set")
    name=${line#\# }
    name=${name%% *}
    grep -q "^$name=" "$obj/.config" && mismatch+=("$line (got $(grep "^$name=" "$obj/.config"))")
    ;;
  esac
done <"$fragment"
if ((${#mismatch[@]})); then
  printf 'kernel/build.sh: the final .config does not honour the fragment:\n' >&2
  printf '  %s\n' "${mismatch[@]}" >&2
  die "fix $fragment (an option's dependencies are probably unmet)"
fi

kmake -j"$jobs" bzImage || fail "make bzImage failed"

# Assemble the result beside its final place, then rename: readers see all of it or nothing.
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
cp "$obj/arch/x86/boot/bzImage" "$out.tmp/bzImage"
cp "$obj/vmlinux" "$out.tmp/vmlinux"
cp "$obj/.config" "$out.tmp/config"
rm -rf "$out"
mv "$out.tmp" "$out"
log "built in $(($(date +%s) - start)) s"
report
