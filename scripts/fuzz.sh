#!/usr/bin/env bash
# fuzz.sh: build the libFuzzer harnesses of fuzz/ with clang under ASan and
# UBSan, replay fuzz/regressions/<harness>/, then run each harness for
# FUZZ_SECONDS on a copy of its seed corpus (fuzz/corpus/<harness>/), and
# print per harness the executions, exec/s, coverage and crashes.  Fails
# if a harness cannot be built, a regression input fails, or a run finds a
# crash (kept under <builddir>/fuzz/artifacts/<harness>/).
#
# Called by `make fuzz` with the configured build's settings:
#   top_srcdir, top_builddir, CRYPTO_CFLAGS, CRYPTO_LIBS (the OpenSSL the
#   build was configured with; CRYPTO_LIBS carries its -rpath, so the
#   harnesses run against that libcrypto), FUZZ_SECONDS (default 10),
#   FUZZ_CC (default: clang, else clang-14), FUZZ_JOBS (harnesses run at
#   once, default: the number of CPUs), FUZZ_HARNESSES (default: all),
#   FUZZ_ARGS (more libFuzzer options for the timed runs).
set -uo pipefail

top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top=$(cd "$top" && pwd)
build=${top_builddir:?top_builddir: the configured build directory (it has config.h)}
build=$(cd "$build" && pwd)
seconds=${FUZZ_SECONDS:-10}
jobs=${FUZZ_JOBS:-$(nproc)}
out=$build/fuzz
all=(fuzz_cmsg fuzz_gro_split fuzz_gso_group fuzz_bio_mmsg fuzz_bio_ctrl fuzz_provider_conf)
read -r -a harnesses <<<"${FUZZ_HARNESSES:-${all[*]}}"

die() {
	echo "fuzz.sh: $*" >&2
	exit 1
}

[ -f "$build/config.h" ] || die "$build/config.h: missing (configure the build first)"
cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
	for c in clang clang-14; do
		command -v "$c" >/dev/null && { cc=$c; break; }
	done
fi
[ -n "$cc" ] || die "no clang found: libFuzzer needs clang (apt-get install clang-14 libclang-rt-14-dev)"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stdint.h>' '#include <stddef.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$probe/t.c"
"$cc" -fsanitize=fuzzer,address,undefined "$probe/t.c" -o "$probe/t" 2>"$probe/err" ||
	die "$cc cannot build a libFuzzer program with ASan and UBSan ($(head -n1 "$probe/err")); install clang-14 and libclang-rt-14-dev"

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-g -O1 $san -DDGB_FUZZ -I$top/include -I$top/plugin -I$build -I$top/fuzz ${CRYPTO_CFLAGS:-}"
libs="${CRYPTO_LIBS:--lcrypto} -lpthread -ldl"
mkdir -p "$out/obj" "$out/work" "$out/artifacts" "$out/logs"
rm -f "$out/status"

# The module's sources, instrumented for coverage (fuzzer-no-link) once.
srcs=(plugin/core/core.c plugin/core/gro.c plugin/probe/probe.c
	plugin/glue/bio_method.c plugin/glue/mmsg.c plugin/glue/addr.c plugin/glue/ossl.c
	plugin/glue/provider.c)
objs=()
for s in "${srcs[@]}"; do
	o=$out/obj/$(basename "${s%.c}").o
	if [ ! -f "$o" ] || [ "$top/$s" -nt "$o" ] || [ "$build/config.h" -nt "$o" ]; then
		# shellcheck disable=SC2086
		"$cc" $cflags -fsanitize=fuzzer-no-link -c "$top/$s" -o "$o" || die "cannot compile $s"
	fi
	objs+=("$o")
done
built=()
for h in "${harnesses[@]}"; do
	[ -f "$top/fuzz/$h.c" ] || die "no harness fuzz/$h.c"
	# shellcheck disable=SC2086
	if ! "$cc" $cflags -fsanitize=fuzzer "$top/fuzz/$h.c" "${objs[@]}" $libs -o "$out/$h" \
		2>"$out/logs/$h.build.log"; then
		# The provider's configuration is handed in with OSSL_PROVIDER_load_ex (3.2+).
		if grep -q 'needs OpenSSL 3.2' "$out/logs/$h.build.log"; then
			echo "fuzz.sh: $h skipped: it needs OpenSSL 3.2 or later"
			continue
		fi
		cat "$out/logs/$h.build.log" >&2
		die "cannot build $h"
	fi
	built+=("$h")
done
[ "${#built[@]}" -gt 0 ] || die "no harness built"
harnesses=("${built[@]}")
echo "fuzz.sh: built ${harnesses[*]} with $cc; libcrypto: $(ldd "$out/${harnesses[0]}" | awk '$1 == "libcrypto.so.3" { print $3 }')"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The provider harness loads the module's provider built in, under this pin.
export OPENSSL_CONF=$top/tests/openssl-test.cnf

rc=0
# Regressions first: each kept input must run clean.
for h in "${harnesses[@]}"; do
	reg=$top/fuzz/regressions/$h
	if compgen -G "$reg/*" >/dev/null; then
		if "$out/$h" -runs=1 "$reg"/* >"$out/logs/$h.regressions.log" 2>&1; then
			echo "$h: regressions: $(find "$reg" -type f | wc -l) inputs replayed, all clean"
		else
			echo "$h: regressions FAILED (see $out/logs/$h.regressions.log)"
			tail -n 30 "$out/logs/$h.regressions.log"
			rc=1
		fi
	fi
done

run_one() {
	local h=$1 work=$out/work/$1 art=$out/artifacts/$1/
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	if [ -d "$top/fuzz/corpus/$h" ]; then
		cp "$top/fuzz/corpus/$h"/* "$work"/ 2>/dev/null || true
	fi
	# shellcheck disable=SC2086
	"$out/$h" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$art" \
		-timeout=10 -rss_limit_mb=2048 ${FUZZ_ARGS:-} "$work" >"$out/logs/$h.log" 2>&1
}

# report H STATUS: one line from libFuzzer's own statistics.
report_one() {
	local h=$1 status=$2 log=$out/logs/$1.log execs rate cov ft crashes
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | cut -d' ' -f2)
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n1 | cut -d' ' -f2)
	crashes=$(find "$out/artifacts/$h" -type f | wc -l)
	printf '%-20s %12s execs %9s exec/s  cov %6s  ft %7s  crashes %s\n' "$h" "${execs:-?}" \
		"${rate:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
	if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
		echo "$h: FAILED (exit $status); the end of $log:"
		tail -n 40 "$log"
		return 1
	fi
}

echo "fuzz.sh: running each harness for ${seconds}s, $jobs at a time"
pids=()
names=()
for h in "${harnesses[@]}"; do
	run_one "$h" &
	pids+=($!)
	names+=("$h")
	if [ "${#pids[@]}" -ge "$jobs" ]; then
		wait "${pids[0]}"
		echo "$? ${names[0]}" >>"$out/status"
		pids=("${pids[@]:1}")
		names=("${names[@]:1}")
	fi
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}"
	echo "$? ${names[$i]}" >>"$out/status"
done
for h in "${harnesses[@]}"; do
	st=$(awk -v h="$h" '$2 == h { s = $1 } END { print s + 0 }' "$out/status")
	report_one "$h" "$st" || rc=1
done
rm -f "$out/status"
[ "$rc" -eq 0 ] && echo "fuzz.sh: no crashes" || echo "fuzz.sh: FAILED"
exit "$rc"
