# lib.sh: the functions every generated repro.sh uses (integrity-harness, harness/repro/files/lib.sh).
# POSIX sh; busybox is enough. Exit codes: 1 the bug reproduces, 0 it does not, 125 this machine cannot
# run the reproducer (the message says what is missing), 2 a usage error (IH_DISK_* wrong).

IH_LEAVE=0
IH_LOOPS=''
IH_WAITING=''
IH_STEP=''

ih_say() { printf '%s\n' "$*" >&2; }
ih_env() { ih_say "repro: cannot run here: $*"; exit 125; }
ih_usage() { ih_say "repro: $*"; exit 2; }
ih_reproduced() { printf 'REPRODUCED: %s\n' "$*"; exit 1; }
ih_need() { for p in "$@"; do command -v "$p" >/dev/null 2>&1 || ih_env "no '$p' on PATH"; done; }

# ih_setup TIMEOUT: root, the tools, a scratch directory, the kernel-log mark, the O_DIRECT mover.
ih_setup() {
  [ "$(id -u)" = 0 ] || ih_env "needs root (device-mapper, loop devices)"
  ih_need dmsetup dd awk cmp od blockdev dmesg mktemp grep
  IH_TIMEOUT=${IH_REPRO_TIMEOUT:-$1}
  if dmsetup ls 2>/dev/null | awk '{print $1}' | grep -q '^ih-'; then
    ih_env "device-mapper devices named ih-* exist already (dmsetup ls): remove them first"
  fi
  W=${IH_REPRO_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/ih-repro.XXXXXX")} || ih_env "mktemp -d failed"
  mkdir -p "$W/tmp" || ih_env "cannot create $W/tmp"
  trap ih_cleanup EXIT
  trap ih_hang USR1
  IH_MARK="ih-repro: begin $$ $(date +%s)"
  echo "$IH_MARK" >/dev/kmsg 2>/dev/null || IH_MARK=''
  [ -n "$IH_MARK" ] || ih_say "repro: /dev/kmsg not writable: the kernel log is searched from its start"
  if [ -n "${IH_IO:-}" ]; then IO=$IH_IO
  elif command -v ih-io >/dev/null 2>&1; then IO=ih-io
  else
    cc=''
    for c in cc gcc clang; do command -v "$c" >/dev/null 2>&1 && { cc=$c; break; }; done
    [ -n "$cc" ] || ih_env "needs ih-io on PATH or a C compiler (cc) to build it from $R/io.c"
    "$cc" -O2 -Wall -std=gnu11 -o "$W/ih-io" "$R/io.c" -pthread >"$W/cc.log" 2>&1 || ih_env "building $R/io.c failed: $(tail -n 5 "$W/cc.log")"
    IO=$W/ih-io
  fi
}

# ih_disk VAR NAME BYTES: the device for the scenario's disk NAME, all zeroes, exactly BYTES long:
# $IH_DISK_<NAME> when set (it is overwritten), else a loop device over a sparse file in the scratch directory.
ih_disk() {
  eval "ih_given=\${IH_DISK_$2:-}"
  if [ -n "$ih_given" ]; then
    [ -b "$ih_given" ] || ih_usage "IH_DISK_$2=$ih_given is not a block device"
    ih_size=$(blockdev --getsize64 "$ih_given") || ih_usage "blockdev --getsize64 $ih_given failed"
    [ "$ih_size" = "$3" ] || ih_usage "IH_DISK_$2=$ih_given has $ih_size bytes; the scenario's disk $2 has $3"
    dd if=/dev/zero of="$ih_given" bs=65536 count=$(($3 / 65536)) conv=fsync 2>/dev/null || ih_env "zeroing $ih_given failed"
    [ $(($3 % 65536)) = 0 ] || dd if=/dev/zero of="$ih_given" bs=512 seek=$(($3 / 65536 * 128)) count=$(($3 % 65536 / 512)) conv=fsync 2>/dev/null
    ih_dev=$ih_given
  else
    ih_need losetup
    ih_file="$W/disk-$2.img"
    dd if=/dev/zero of="$ih_file" bs=1 count=0 seek="$3" 2>/dev/null || ih_env "cannot create $ih_file"
    ih_dev=$(losetup -f --show "$ih_file" 2>/dev/null) || { ih_dev=$(losetup -f) && losetup "$ih_dev" "$ih_file"; } ||
      ih_env "no free loop device for $ih_file (modprobe loop?), or set IH_DISK_$2"
    IH_LOOPS="$ih_dev $IH_LOOPS"
  fi
  eval "$1=\$ih_dev"
}

ih_step() { IH_STEP=$1; ih_say "repro: step $1"; }

# ih_run MUST RUN_EXIT [-i STDIN_FILE] -- ARGV...: runs one command of the scenario as the harness did.
# MUST 1: the model requires exit 0; e: the model does not judge it, but it succeeded in the run, so a
# failure here means this machine differs; 0: anything goes. RUN_EXIT: its exit in the run ('-': never returned).
ih_run() {
  ih_must=$1 ih_was=$2
  shift 2
  ih_in=/dev/null
  if [ "$1" = -i ]; then ih_in=$2; shift 2; fi
  [ "$1" = -- ] && shift
  ih_say "+ $*"
  IH_WAITING="$*"
  "$@" <"$ih_in" >"$W/last.out" 2>"$W/last.err" &
  ih_pid=$!
  (
    sleep "$IH_TIMEOUT" &
    ih_sleep=$!
    trap 'kill $ih_sleep 2>/dev/null; exit 0' TERM
    wait "$ih_sleep" && kill -USR1 $$ 2>/dev/null
  ) </dev/null >/dev/null 2>&1 &
  ih_dog=$!
  wait "$ih_pid"
  IH_RC=$?
  kill "$ih_dog" 2>/dev/null
  IH_WAITING=''
  IH_WAITING_LAST="$*"
  ih_oops "$*"
  if [ "$ih_must" = e ] && [ "$IH_RC" != 0 ]; then
    ih_env "step $IH_STEP: '$*' exited $IH_RC here but 0 in the run: $(tail -n 3 "$W/last.err")"
  fi
  if [ "$ih_must" = 1 ] && [ "$IH_RC" != 0 ]; then
    if [ "$ih_was" != 0 ]; then
      ih_reproduced "step $IH_STEP: '$*' exited $IH_RC (in the run: $ih_was); the model requires it to succeed: $(tail -n 3 "$W/last.err")"
    fi
    ih_env "step $IH_STEP: '$*' exited $IH_RC here but 0 in the run: $(tail -n 3 "$W/last.err")"
  fi
}

# The kernel log since the mark: an oops, BUG, WARNING, panic or hung task is the bug showing itself.
ih_oops() {
  ih_line=$(dmesg 2>/dev/null | awk -v m="$IH_MARK" -v re="$IH_OOPS" 'm == "" || index($0, m) { on = 1; if (m != "") next } on && $0 ~ re { print; exit }')
  if [ -n "$ih_line" ]; then
    IH_LEAVE=1
    ih_reproduced "step $IH_STEP: the kernel logged '$(printf '%s' "$ih_line" | sed 's/^\[[^]]*\] *//')' during '$1' (dmesg has the trace)"
  fi
}

ih_hang() {
  ih_oops "$IH_WAITING"
  IH_LEAVE=1
  ih_reproduced "step $IH_STEP: hang: '$IH_WAITING' did not finish within ${IH_TIMEOUT}s (IH_REPRO_TIMEOUT)"
}

# ih_out BYTES: a fresh, zeroed file for the next read's output (blocks that fail are not written).
ih_out() {
  rm -f "$W/out.bin"
  dd if=/dev/zero of="$W/out.bin" bs=1 count=0 seek="$1" 2>/dev/null || ih_env "cannot create $W/out.bin"
}

# ih_check EXPECTATION_FILE: the last command's output against the model's answer, stored at generation.
ih_check() {
  ih_res=$(awk -f "$R/check.awk" "$R/$1" "$W/last.out")
  case $? in
    0) ;;
    1) ih_reproduced "step $IH_STEP: $ih_res" ;;
    *) ih_env "step $IH_STEP: $ih_res (exit $IH_RC: $(tail -n 3 "$W/last.err"))" ;;
  esac
  grep '^data ' "$R/$1" >"$W/data" || return 0
  read -r _ ih_off _ _ ih_bsz <"$R/$1"
  while read -r _ ih_block ih_count ih_src; do
    ih_n=$((ih_count * ih_bsz / 512))
    dd if="$W/out.bin" of="$W/seen" bs=512 skip=$(((ih_block * ih_bsz - ih_off) / 512)) count=$ih_n 2>/dev/null
    case $ih_src in
      zero) dd if=/dev/zero of="$W/want" bs=512 count=$ih_n 2>/dev/null ;;
      extra:*) dd if="$R/extra.bin" of="$W/want" bs=512 skip=$((${ih_src#extra:} / 512)) count=$ih_n 2>/dev/null ;;
      *) dd if="$R/payload.bin" of="$W/want" bs=512 skip=$((ih_src / 512)) count=$ih_n 2>/dev/null ;;
    esac
    if ! cmp -s "$W/want" "$W/seen"; then
      set -- $(cmp -l "$W/want" "$W/seen" 2>/dev/null | head -n 1)
      [ $# -ge 3 ] || set -- "$(($(wc -c <"$W/seen") + 1))" 0 0
      ih_at=$(($1 - 1))
      ih_b=$((ih_block + ih_at / ih_bsz))
      ih_reproduced "step $IH_STEP: data-mismatch block $ih_b (sector $((ih_b * ih_bsz / 512))): expected byte $((ih_at % ih_bsz)) = 0x$(printf %02x $((0$2))), found 0x$(printf %02x $((0$3)))"
    fi
  done <"$W/data"
}

# ih_refused WHY: the model says the last command must be refused (a bad superblock, a refused option).
ih_refused() {
  [ "$IH_RC" != 0 ] || ih_reproduced "step $IH_STEP: open-accepted: expected refused ($1), found '$IH_WAITING_LAST' succeeded"
}

# ih_flip DEVICE OFFSET: the host's corruption, one byte XOR 0xff at a raw offset (the stack is closed).
ih_flip() {
  ih_b=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' \n')
  [ -n "$ih_b" ] || ih_env "cannot read byte $2 of $1"
  printf "\\$(printf %o $((ih_b ^ 255)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc,fsync 2>/dev/null || ih_env "cannot write byte $2 of $1"
  ih_say "repro: flipped byte $2 of $1 (0x$(printf %02x "$ih_b") -> 0x$(printf %02x $((ih_b ^ 255))))"
}

# ih_swap DEV_A OFF_A DEV_B OFF_B LENGTH: two raw ranges exchanged (a block and its tag moved elsewhere).
ih_swap() {
  dd if="$1" of="$W/swap-a" bs=1 skip="$2" count="$5" 2>/dev/null && dd if="$3" of="$W/swap-b" bs=1 skip="$4" count="$5" 2>/dev/null &&
    dd if="$W/swap-b" of="$1" bs=1 seek="$2" conv=notrunc,fsync 2>/dev/null && dd if="$W/swap-a" of="$3" bs=1 seek="$4" conv=notrunc,fsync 2>/dev/null ||
    ih_env "swapping $5 bytes at $1:$2 and $3:$4 failed"
  ih_say "repro: swapped $5 bytes at $1:$2 and $3:$4"
}

ih_cleanup() {
  ih_rc=$?
  trap - EXIT USR1
  if [ "$IH_LEAVE" = 1 ]; then
    ih_say "repro: the kernel is in a bad state: device-mapper devices (ih-*) and loop devices ($IH_LOOPS) left as they are, scratch in $W"
    exit "$ih_rc"
  fi
  for _ in 1 2 3; do
    for ih_n in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^ih-/ {print $1}'); do dmsetup remove "$ih_n" >/dev/null 2>&1; done
  done
  for ih_l in $IH_LOOPS; do losetup -d "$ih_l" 2>/dev/null; done
  [ -n "${IH_REPRO_WORK:-}" ] || rm -rf "$W"
  exit "$ih_rc"
}
