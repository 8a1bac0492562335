#!/usr/bin/env bash
# make test-cluster: the batch's cluster paths run for real on this machine.
#
# 1. Slurm: a one-node cluster started here (munged with a fresh key, slurmctld and slurmd as
#    root from a slurm.conf written for this host, state and spool in a temporary folder) runs
#    examples/batch_slurm.sh as a real array job (4 tasks) and its merge job over a
#    collection of 13 sonic-pi loops and drum hits and one corrupt WAV.
# 2. GNU parallel over ssh: sshd on a high port from a temporary config and host key, logged
#    into with a temporary user key as two "hosts" (both localhost), runs
#    examples/batch_parallel.sh over the same collection in 4 shards. Skipped, saying why,
#    when sshd cannot run here; Slurm never is.
# Each merged result must equal a one-machine `tessera batch` of the collection with the same
# options, file for file (scripts/batch-equal.lua: the table's rows but timings, the factors
# byte for byte), the corrupt file failed in all three. The daemons are stopped and the
# folder removed on any exit (TESSERA_CLUSTER_KEEP=1 keeps the folder for a look).
#
# Needs root (slurmd starts jobs as their user) and `make deps` (slurm-wlm, munge,
# openssh-server, openssh-client, parallel). The whole run has a limit,
# TESSERA_CLUSTER_TIMEOUT seconds (default 600): a wait past it fails with the daemons' logs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TESSERA=$ROOT/bin/tessera
TIMEOUT=${TESSERA_CLUSTER_TIMEOUT:-600}
DEADLINE=$((SECONDS + TIMEOUT))
# Small and quick: the batch contract is the same for any options.
OPTIONS=${OPTIONS:--k 3 --loss kl --iter 30}
SAMPLES=/usr/share/sonic-pi/samples
LOOPS="amen breakbeat industrial electric perc1 perc2 mehackit1"
DRUMS="bass_hard cymbal_hard snare_hard splash_soft tom_lo_hard heavy_kick"
export OPTIONS
# The daemons live in /usr/sbin, which a non-login shell's PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin

say() { echo "test-cluster: [${SECONDS}s] $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# The last lines of each log named, under a header.
show_logs() {
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "---- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
}

[ "$(id -u)" -eq 0 ] || fail "must run as root: slurmd starts jobs as their user (CI runs as root)"
[ -x "$TESSERA" ] || fail "no $TESSERA (make all builds it)"
for cmd in munged munge unmunge slurmctld slurmd sbatch squeue scontrol sinfo scancel parallel; do
  command -v "$cmd" >/dev/null || fail "no '$cmd' (make deps installs slurm-wlm, munge, parallel)"
done

T=$(mktemp -d /tmp/tessera-cluster.XXXXXX)
chmod 755 "$T" # munged wants its socket's folder searchable by all
pids=() # the daemons this script started, stopped in reverse order
jobs_to_cancel=() # Slurm jobs to cancel if the run stops while they are queued

cleanup() {
  local status=$? i
  trap - EXIT INT TERM
  if [ ${#jobs_to_cancel[@]} -gt 0 ]; then scancel "${jobs_to_cancel[@]}" 2>/dev/null || true; sleep 1; fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    # A daemon that ignores TERM for 10 s is killed.
    for _ in $(seq 1 20); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.5; done
    kill -9 "${pids[i]}" 2>/dev/null || true
  done
  if [ "${TESSERA_CLUSTER_KEEP:-0}" = 1 ]; then say "kept $T"; else rm -rf "$T"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The seconds left before the run's deadline (at least 1).
left() { local n=$((DEADLINE - SECONDS)); echo $((n > 0 ? n : 1)); }

# wait_for WHAT LOGS... -- COMMAND: runs COMMAND every second until it succeeds; fails with
# the logs' tails past the deadline, or at once when a daemon of ours has died.
wait_for() {
  local what=$1 logs=() pid
  shift
  while [ "$1" != "--" ]; do logs+=("$1"); shift; done
  shift
  until "$@" >/dev/null 2>&1; do
    for pid in "${pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        show_logs "${logs[@]}"
        fail "a daemon (pid $pid, $(cat "$T/pid-$pid" 2>/dev/null)) exited while waiting for $what"
      fi
    done
    if [ "$SECONDS" -ge "$DEADLINE" ]; then
      show_logs "${logs[@]}"
      fail "no $what within the run's ${TIMEOUT} s (TESSERA_CLUSTER_TIMEOUT)"
    fi
    sleep 1
  done
}

# start NAME COMMAND...: a daemon in the foreground of a background job, its output in
# $T/NAME.out; its pid kept for the cleanup.
start() {
  local name=$1
  shift
  "$@" >"$T/$name.out" 2>&1 &
  pids+=("$!")
  echo "$name" >"$T/pid-$!"
}

# A TCP port nothing on this machine listens on and not given before, from a random start
# (two runs at once pick different ones) below Linux's ephemeral ports (32768 on).
# free_port VAR sets VAR to it (not through $(...), whose subshell would forget the ports).
ports_given=" "
ctld_port=0 slurmd_port=0 port=0 # set below by free_port
free_port() {
  local p=$((10000 + RANDOM % 20000))
  while [[ $ports_given == *" $p "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
    p=$((p + 1))
  done
  ports_given+="$p "
  printf -v "$1" '%s' "$p"
}

# ---- the collection: 13 short real files in two folders, and one corrupt WAV
COLL=$T/collection
mkdir -p "$COLL/loops" "$COLL/drums"
for f in $LOOPS; do cp "$SAMPLES/loop_$f.flac" "$COLL/loops/"; done
for f in $DRUMS; do cp "$SAMPLES/drum_$f.flac" "$COLL/drums/"; done
# A RIFF header and text where the format chunk should be: no decoder takes it.
{ printf 'RIFF\x10\x27\x00\x00WAVE'; printf 'not audio\n%.0s' $(seq 1 400); } >"$COLL/corrupt.wav"
n_files=$(find "$COLL" -type f | wc -l)

# ---- the reference: one machine, one batch. One thread per worker, as the shards below run
# (the default when there are more files than cores; said, as a batch of fewer files than
# cores may give each worker more).
say "one-machine batch of $n_files files ($OPTIONS)"
status=0
# shellcheck disable=SC2086 # OPTIONS is a list of options
timeout "$(left)" "$TESSERA" batch "$COLL" -o "$T/single" $OPTIONS --threads 1 --progress none \
  2>"$T/single.log" || status=$?
[ "$status" -eq 1 ] || { show_logs "$T/single.log"; fail "the one-machine batch exited $status, not 1 (one corrupt file)"; }
grep -q '^corrupt\.wav,.*,failed,' "$T/single/results.csv" \
  || fail "corrupt.wav is not failed in $T/single/results.csv"

# check_same WHAT OUT: OUT's merged results equal the one-machine batch's, file for file.
check_same() {
  local what=$1 out=$2 report
  report=$("$TESSERA" scripts/batch-equal.lua "$T/single" "$out") \
    || fail "$what's merged results differ from the one-machine batch (above)"
  case $report in
    *"the same $n_files rows ($((n_files - 1)) ok, 1 failed)"*) ;;
    *) fail "$what: expected $n_files rows, $((n_files - 1)) ok and 1 failed: $report" ;;
  esac
  say "$what: ${report#batch-equal: }"
}

# ---- Slurm
H=$(hostname -s)
export SLURM_CONF=$T/slurm.conf
mkdir -p "$T/state" "$T/spool" "$T/submit"
head -c 1024 /dev/urandom >"$T/munge.key"
chmod 400 "$T/munge.key"
say "starting munged"
start munged munged -F --key-file="$T/munge.key" --socket="$T/munge.socket" \
  --pid-file="$T/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munged.seed"
wait_for "munge credentials" "$T/munged.log" "$T/munged.out" -- \
  sh -c "munge -n -S '$T/munge.socket' | unmunge -S '$T/munge.socket'"

# This host as slurmd sees it (CPUs, sockets, cores, memory), minus its name.
node=$(slurmd -C | sed -n 's/^NodeName=[^ ]* //p')
[ -n "$node" ] || fail "slurmd -C did not describe this host"
free_port ctld_port
free_port slurmd_port
cat >"$SLURM_CONF" <<EOF
# A one-node cluster for scripts/test-cluster.sh (written by it, removed after).
ClusterName=tessera-test
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge.socket
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: processes tracked by their parent, tasks not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MailProg=/bin/true
ReturnToService=2
# Ended jobs stay visible to scontrol for the checks below.
MinJobAge=3600
NodeName=$H NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=test Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF
say "starting slurmctld and slurmd ($H: $node)"
start slurmctld slurmctld -D -f "$SLURM_CONF"
wait_for "answer from slurmctld" "$T/slurmctld.log" "$T/slurmctld.out" -- \
  sh -c 'scontrol ping | grep -q UP'
start slurmd slurmd -D -f "$SLURM_CONF" -N "$H"
wait_for "idle node $H" "$T/slurmd.log" "$T/slurmd.out" "$T/slurmctld.log" -- \
  sh -c "sinfo -h -N -n '$H' -o %t | grep -qx idle"

say "submitting examples/batch_slurm.sh as a 4-task array"
submitted=$(cd "$T/submit" && COLLECTION=$COLL OUT=$T/slurm-out TESSERA=$TESSERA \
  "$ROOT/examples/batch_slurm.sh" --array=1-4 --cpus-per-task=1 --mem-per-cpu=256M) \
  || { show_logs "$T/slurmctld.log"; fail "sbatch refused the jobs"; }
echo "$submitted" >&2
[[ $submitted =~ array\ job\ ([0-9]+)\ and\ merge\ job\ ([0-9]+) ]] \
  || fail "cannot read the job ids in: $submitted"
array=${BASH_REMATCH[1]} merge=${BASH_REMATCH[2]}
jobs_to_cancel=("$array" "$merge")
jobs_ended() { [ -z "$(squeue -h -j "$array,$merge" -o %i 2>/dev/null)" ]; }
if ! (wait_for "end of jobs $array and $merge" -- jobs_ended); then
  squeue -j "$array,$merge" >&2 || true
  show_logs "$T/slurmctld.log" "$T/slurmd.log" "$T"/submit/*.log
  exit 1
fi
jobs_to_cancel=()

# Every task ran and ended by itself: COMPLETED, or FAILED with the number of its failed
# files as exit status (the shard with corrupt.wav: 1); the merge COMPLETED.
states=$(scontrol -o show job "$array" | sed -n 's/.*ArrayTaskId=\([0-9]*\) .*JobState=\([A-Z_]*\) .*ExitCode=\([0-9]*\):\([0-9]*\).*/\1 \2 \3 \4/p' | sort -n)
while read -r task state code signal; do
  say "array task $task: $state, exit status $code, signal $signal"
done <<<"$states"
[ "$(echo "$states" | awk '{print $1}' | tr '\n' ' ')" = "1 2 3 4 " ] \
  || fail "the array's tasks are not 1 2 3 4"
echo "$states" | awk '$4 != 0 || !(($2 == "COMPLETED" && $3 == 0) || ($2 == "FAILED" && $3 == 1)) { bad = 1 }
  { sum += $3 } END { exit bad || sum != 1 }' \
  || { show_logs "$T"/submit/tessera-batch-*.log; fail "array tasks in unexpected states"; }
scontrol -o show job "$merge" | grep -q 'JobState=COMPLETED .*ExitCode=0:0' \
  || { show_logs "$T"/submit/tessera-merge-*.log; fail "the merge job $merge did not complete"; }
for i in 1 2 3 4; do
  grep -q "(shard $i of 4)" "$T/submit/tessera-batch-${array}_$i.log" \
    || { show_logs "$T/submit/tessera-batch-${array}_$i.log"; fail "task $i did not run shard $i of 4"; }
done
check_same "Slurm array $array (4 tasks) + merge $merge" "$T/slurm-out"

# ---- GNU parallel over ssh to localhost
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
if [ ! -x "$sshd_bin" ] || ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
  say "SKIPPED GNU parallel over ssh: no sshd, ssh or ssh-keygen (openssh-server, openssh-client)"
  exit 0
fi
S=$T/ssh
mkdir -m 700 "$S"
ssh-keygen -q -t ed25519 -N '' -C tessera-test-host -f "$S/host_key"
ssh-keygen -q -t ed25519 -N '' -C tessera-test-user -f "$S/user_key"
cp "$S/user_key.pub" "$S/authorized_keys"
free_port port
cat >"$S/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $S/host_key
PidFile $S/sshd.pid
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel INFO
AcceptEnv OPENBLAS_* TESSERA_*
EOF
cat >"$S/ssh_config" <<EOF
Host tessera-node1 tessera-node2
  HostName 127.0.0.1
  Port $port
  User $(id -un)
  IdentityFile $S/user_key
  IdentitiesOnly yes
  HostKeyAlias tessera-test-host
  UserKnownHostsFile $S/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 20
  LogLevel ERROR
  # The nodes of a cluster are set up alike: what chooses this machine's OpenBLAS kernels
  # (OPENBLAS_CORETYPE) or tessera's SIMD path goes with each login.
  SendEnv OPENBLAS_* TESSERA_*
EOF
echo "tessera-test-host $(cat "$S/host_key.pub")" >"$S/known_hosts"
mkdir -p /run/sshd # sshd's privilege separation folder (the package makes it at boot)
if ! why=$("$sshd_bin" -t -f "$S/sshd_config" 2>&1); then
  say "SKIPPED GNU parallel over ssh: sshd refuses its configuration here: $why"
  exit 0
fi
start sshd "$sshd_bin" -D -e -f "$S/sshd_config"
sshd_pid=${pids[-1]}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
for _ in $(seq 1 30); do listening && break; kill -0 "$sshd_pid" 2>/dev/null || break; sleep 1; done
if ! listening; then
  show_logs "$T/sshd.out"
  say "SKIPPED GNU parallel over ssh: sshd cannot run here (it does not listen on port $port)"
  exit 0
fi
wait_for "ssh login to tessera-node1" "$T/sshd.out" -- ssh -F "$S/ssh_config" tessera-node1 true

say "examples/batch_parallel.sh: 4 shards over ssh on two hosts (both localhost)"
status=0
PARALLEL_SSH="ssh -F $S/ssh_config" HOSTS=tessera-node1,tessera-node2 SHARDS=4 TESSERA=$TESSERA \
  timeout "$(left)" "$ROOT/examples/batch_parallel.sh" "$COLL" "$T/parallel-out" \
  >"$T/parallel.log" 2>&1 || status=$?
# parallel's status is the number of shards with a failed file: the one with corrupt.wav.
[ "$status" -ne 124 ] || { show_logs "$T/parallel.log"; fail "batch_parallel.sh did not end within the run's ${TIMEOUT} s"; }
[ "$status" -eq 1 ] || { show_logs "$T/parallel.log" "$T/sshd.out"; fail "batch_parallel.sh exited $status, not 1"; }
logins=$(grep -c 'Accepted publickey' "$T/sshd.out" || true)
[ "$logins" -ge 5 ] || { show_logs "$T/sshd.out"; fail "only $logins ssh logins: the shards did not run over ssh"; }
check_same "GNU parallel, 4 shards over ssh ($logins logins)" "$T/parallel-out"
say "passed"
