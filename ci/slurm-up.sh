#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine for the `slurm` tests (Debian, as root).
#
#   ci/slurm-up.sh            install munge/SLURM/MariaDB if missing, start the daemons,
#                             wait until the node is idle; prints `export SLURM_CONF=...`
#   eval "$(ci/slurm-up.sh)"  ... and use the cluster from this shell
#   ci/slurm-down.sh          stop the daemons again
#
# Idempotent: daemons that already run are kept. No systemd: every daemon runs in the
# background with its pid file under $SLURM_STATE (default /var/lib/snakesweep-slurm).
# Accounting goes through slurmdbd + MariaDB, as on real clusters, so sacct works and the
# executor plugin's defaults apply. Two fake GPUs (/dev/fakegpu0-1, character devices like
# /dev/null) make `--gpus`/`--gres` requests schedulable and set CUDA_VISIBLE_DEVICES.
#
# The configuration lives in $SLURM_STATE/etc. SLURM's tools find it through a link at
# /run/slurm/conf/slurm.conf (where tools look when /etc/slurm/slurm.conf is absent), which
# exists only while the cluster runs: jobs need it (the executor plugin clears SLURM_CONF
# before its inner srun), and without it `scontrol show config`, which the executor plugin
# runs at every snakemake start, fails at once instead of waiting ~10 s for a stopped
# controller. ci/slurm-down.sh removes the link.
set -euo pipefail

STATE=${SLURM_STATE:-/var/lib/snakesweep-slurm}
CLUSTER=snakesweep
ACCOUNT=${SLURM_TEST_ACCOUNT:-sweeps}
PARTITION=debug
HOST=$(hostname -s)
ETC=$STATE/etc
RUN=$STATE/run
LOG=$STATE/log
LINK=/run/slurm/conf/slurm.conf
DB_SOCKET=$RUN/mysqld.sock
DB_PORT=${SLURM_DB_PORT:-3316}  # TCP on 127.0.0.1 only; not 3306, to stay clear of a system MariaDB
export SLURM_CONF=$ETC/slurm.conf

say() { echo "slurm-up: $*" >&2; }
die() {
    say "error: $*"
    [[ $(readlink "$LINK" 2>/dev/null) == "$ETC/slurm.conf" ]] && rm -f "$LINK"
    exit 1
}
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local limit=$1 what=$2 start=$SECONDS
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS - start < limit)) || die "$what not ready after ${limit}s (logs: $LOG)"
        sleep 0.2
    done
}

[[ $(id -u) == 0 ]] || die "run as root (the daemons run as root, munged as user munge)"

mkdir -p "$ETC" "$RUN" "$LOG" "$STATE/spool/ctld" "$STATE/spool/d" "$STATE/mysql"

# --- packages -----------------------------------------------------------------------------
need=()
for pair in munged:munge slurmctld:slurmctld slurmd:slurmd sinfo:slurm-client \
    slurmdbd:slurmdbd mariadbd:mariadb-server; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if ((${#need[@]})); then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet; refresh them only then (saves ~5 s).
    apt-get install -y -q --no-install-recommends "${need[@]}" >"$LOG/apt.log" 2>&1 \
        || { apt-get update -q >>"$LOG/apt.log" 2>&1 \
            && apt-get install -y -q --no-install-recommends "${need[@]}" >>"$LOG/apt.log" 2>&1; } \
        || die "apt-get install ${need[*]} failed (see $LOG/apt.log)"
fi

# --- configuration (rewritten each time; the daemons read it when they start) --------------
read -r CPUS BOARDS SOCKETS CORES THREADS MEM < <(slurmd -C | sed -n 's/^NodeName=.* CPUs=\([0-9]*\) Boards=\([0-9]*\) SocketsPerBoard=\([0-9]*\) CoresPerSocket=\([0-9]*\) ThreadsPerCore=\([0-9]*\) RealMemory=\([0-9]*\).*/\1 \2 \3 \4 \5 \6/p')
[[ -n ${MEM:-} ]] || die "could not read this node's hardware from 'slurmd -C'"
MEM=$((MEM * 9 / 10))  # leave room for the OS; a node claiming more than it has is drained

for i in 0 1; do  # fake GPUs: slurmd only needs device files to hand out
    [[ -c /dev/fakegpu$i ]] || mknod -m 666 /dev/fakegpu$i c 1 3
done

cat >"$ETC/slurm.conf" <<EOF
# Written by ci/slurm-up.sh: a single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# No cgroups in containers/VMs without systemd: track processes by their parent pids.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Cores and memory are consumable, so several small jobs share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, a job that asks for no memory takes the whole node, one job at a time.
DefMemPerCPU=1000
# Finished jobs stay visible to squeue/scontrol for 5 minutes.
MinJobAge=300
ReturnToService=2
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
# Jobs need a registered account, as on most real clusters.
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
NodeName=$HOST CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM Gres=gpu:2 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

cat >"$ETC/gres.conf" <<EOF
# Two fake GPUs: character devices slurmd hands out and announces in CUDA_VISIBLE_DEVICES.
AutoDetect=off
Name=gpu File=/dev/fakegpu[0-1]
EOF

rm -f "$ETC/cgroup.conf"  # no cgroups: proctrack/linuxproc and task/none need none

cat >"$ETC/slurmdbd.conf" <<EOF
# Written by ci/slurm-up.sh
DbdHost=localhost
SlurmUser=root
AuthType=auth/munge
PidFile=$RUN/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=snakesweep
EOF
chmod 600 "$ETC/slurmdbd.conf"  # slurmdbd refuses a world-readable file with a password

# --- munge --------------------------------------------------------------------------------
# munged (user munge) writes its pid file under /run/munge; a copy in $RUN marks it as ours.
if ! alive "$RUN/munged.pid"; then
    [[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge /var/log/munge /var/lib/munge
    if ! alive /run/munge/munged.pid; then
        runuser -u munge -- munged --force 2>>"$LOG/munged.err" || die "munged did not start"
    fi
    cp /run/munge/munged.pid "$RUN/munged.pid"
fi
wait_for 10 munge bash -c 'munge -n | unmunge'

# --- MariaDB (a private instance: own data folder and socket) ---------------------------------
if ! alive "$RUN/mysqld.pid"; then
    if [[ ! -d $STATE/mysql/mysql ]]; then
        mariadb-install-db --user=mysql --datadir="$STATE/mysql" --auth-root-authentication-method=socket \
            --skip-test-db >"$LOG/mariadb-install.log" 2>&1 || die "mariadb-install-db failed"
    fi
    chown -R mysql:mysql "$STATE/mysql"
    chmod 777 "$RUN"  # mariadbd runs as user mysql and puts its socket and pid file here
    mariadbd --user=mysql --datadir="$STATE/mysql" --socket="$DB_SOCKET" --pid-file="$RUN/mysqld.pid" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --log-error="$LOG/mariadb.log" \
        >/dev/null 2>&1 &
    disown
fi
wait_for 30 MariaDB mariadb-admin --socket="$DB_SOCKET" ping
mariadb --socket="$DB_SOCKET" -u root <<'EOF'
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'snakesweep';
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF

# --- where SLURM's tools find this cluster --------------------------------------------------
[[ -e /etc/slurm/slurm.conf ]] \
    && die "/etc/slurm/slurm.conf exists: this machine already has a SLURM cluster; not starting another"
mkdir -p "$(dirname "$LINK")"
ln -sfn "$ETC/slurm.conf" "$LINK"

# --- slurmdbd, slurmctld, slurmd ---------------------------------------------------------------
# slurmdbd reads slurmdbd.conf from the folder of $SLURM_CONF.
alive "$RUN/slurmdbd.pid" || slurmdbd || die "slurmdbd did not start"
wait_for 60 slurmdbd sacctmgr -n show cluster
sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null 2>&1 || true
sacctmgr -i -Q add account "$ACCOUNT" Cluster="$CLUSTER" Description="snakesweep tests" \
    Organization=snakesweep >/dev/null 2>&1 || true
for user in root ${SUDO_USER:-}; do
    sacctmgr -i -Q add user "$user" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" \
        Cluster="$CLUSTER" >/dev/null 2>&1 || true
done
sacctmgr -n -P show assoc where user=root account="$ACCOUNT" format=account | grep -qx "$ACCOUNT" \
    || die "could not register account $ACCOUNT for root in slurmdbd"

alive "$RUN/slurmctld.pid" || slurmctld -f "$SLURM_CONF" || die "slurmctld did not start"
wait_for 30 slurmctld scontrol ping
alive "$RUN/slurmd.pid" || slurmd -f "$SLURM_CONF" || die "slurmd did not start"

node_state() { sinfo -h -N -n "$HOST" -o %t 2>/dev/null | head -1; }
start=$SECONDS
until [[ $(node_state) == idle ]]; do
    case $(node_state) in
        down* | drain* | inval*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
    esac
    ((SECONDS - start < 60)) || die "node $HOST is '$(node_state)', not idle, after 60s (logs: $LOG)"
    sleep 0.3
done
say "cluster $CLUSTER up: node $HOST idle, partition $PARTITION, account $ACCOUNT, 2 fake GPUs"
echo "export SLURM_CONF=$SLURM_CONF"
