#!/usr/bin/env bash
# Stop the test cluster that ci/slurm-up.sh started: slurmd, slurmctld, slurmdbd, MariaDB,
# munged (only the processes whose pid files ci/slurm-up.sh keeps in $SLURM_STATE/run),
# and the link that lets SLURM's tools find the cluster.
# Jobs still running are cancelled first. Data (accounting database, job state) is kept,
# so the next ci/slurm-up.sh starts quickly. Safe to run when nothing is running.
set -uo pipefail

STATE=${SLURM_STATE:-/var/lib/snakesweep-slurm}
RUN=$STATE/run
export SLURM_CONF=$STATE/etc/slurm.conf

if [[ -s $RUN/slurmctld.pid ]] && kill -0 "$(cat "$RUN/slurmctld.pid")" 2>/dev/null; then
    timeout -k 2 10 scancel --user=root --full >/dev/null 2>&1 || true
fi

stop() {  # stop NAME: TERM, then KILL after 15 s
    local pidfile=$RUN/$1.pid pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        echo "slurm-down: stopped $1 ($pid)" >&2
    fi
    rm -f "$pidfile"
}

for daemon in slurmd slurmctld slurmdbd mysqld munged; do
    stop "$daemon"
done
# Without the link, SLURM's tools (and the executor plugin at each snakemake start) fail at
# once instead of waiting for the stopped controller.
link=/run/slurm/conf/slurm.conf
[[ $(readlink "$link" 2>/dev/null) == "$STATE/etc/slurm.conf" ]] && rm -f "$link"
exit 0
