#!/usr/bin/env bash
# Fuzzes every target of tests/fuzz/ with libFuzzer, MINUTES each (default 2), and prints per
# target: executions, executions per second, final corpus (files, bytes) and findings.
#
#   bench/fuzz.sh [MINUTES] [TARGET...]      e.g. bench/fuzz.sh 10 virtqueue agent_frames
#
# Builds in build/fuzz with clang, -fsanitize=fuzzer,address,undefined (every UBSan report is
# fatal, so the fuzzer sees it). Each target starts from a fresh copy of its committed corpus
# (tests/fuzz/corpus/<name>/) in build/fuzz/runs/<name>/corpus; what it finds (crash-*, leak-*,
# timeout-*, oom-*) lands in build/fuzz/runs/<name>/artifacts, its log in .../fuzz.log. Rerunning
# starts over. Exits 1 when anything was found.
#
# The compiler is clang 16, not Debian's default clang 14: libstdc++ 12 only declares
# std::expected for a compiler that reports C++20 concepts complete (__cpp_concepts >= 202002),
# and clang 14 cannot compile its conditionally trivial destructors at all. Clang 16 can, but
# still reports 201907, so the macro is raised by hand. Packages: clang-16 libclang-rt-16-dev
# (libFuzzer and the sanitizer runtimes); installed with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-2}
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(virtqueue net_device mmio_transport agent_frames linux_boot)
[[ $minutes =~ ^[0-9]+$ && $minutes -gt 0 ]] || { echo "usage: $0 [MINUTES] [TARGET...]" >&2; exit 2; }

packages=(clang-16 libclang-rt-16-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "fuzz.sh: installing ${missing[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

build=build/fuzz
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
flags+=" -fno-omit-frame-pointer -U__cpp_concepts -D__cpp_concepts=202002L"
mkdir -p "$build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-16 \
  -DCMAKE_CXX_FLAGS="$flags" -DBERTH_LIBFUZZER=ON > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; exit 1; }
nice -n 10 cmake --build "$build" --target "${targets[@]/#/fuzz_}"

found=0
summary=()
for t in "${targets[@]}"; do
  run="$build/runs/$t"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp -r "tests/fuzz/corpus/$t/." "$run/corpus/"
  echo "fuzz.sh: $t for $minutes min" >&2
  # -timeout: an input that runs 10 s is a hang; -rss_limit_mb also caps any single malloc.
  nice -n 10 "$build/tests/fuzz/fuzz_$t" -max_total_time=$((minutes * 60)) -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$run/artifacts/" "$run/corpus" \
    > "$run/fuzz.log" 2>&1 || true
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$run/fuzz.log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$run/fuzz.log" | tail -1)
  files=$(find "$run/corpus" -type f | wc -l)
  bytes=$(du -sb "$run/corpus" | cut -f1)
  findings=$(find "$run/artifacts" -type f -printf '%f ' | sed 's/ $//')
  [[ -n $findings ]] && found=1
  summary+=("$(printf '%-15s %12s %9s %7s %10s  %s' "$t" "${execs:-?}" "${rate:-?}" "$files" \
    "$bytes" "${findings:-none}")")
done

printf '%-15s %12s %9s %7s %10s  %s\n' target executions exec/s files bytes findings
printf '%s\n' "${summary[@]}"
if [[ $found -eq 1 ]]; then
  echo "fuzz.sh: findings above; each is in $build/runs/<target>/artifacts, reproduce with" \
    "$build/tests/fuzz/fuzz_<target> FILE" >&2
fi
exit $found
