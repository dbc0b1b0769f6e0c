#!/bin/bash
# slurm-array.sh - run an rnnlab experiment as a Slurm job array, one shard per array task.
#
#   sbatch --array=0-15 experiments/slurm-array.sh experiments/decay_sweep.ini 16
#
# Each task runs `rnnlab run --shard K/N FILE` with K = $SLURM_ARRAY_TASK_ID and N the second
# argument, the number of shards (the array's size), into <output dir>/shard-K-of-N/ (the output
# folder must be on a file system every node sees). N is given, not taken from the array: a task
# that is killed or preempted resumes where it stopped when it runs again on its own,
#
#   sbatch --array=3 experiments/slurm-array.sh experiments/decay_sweep.ini 16
#
# and an array of one task cannot say how many shards there are. When every task has finished,
# combine the shards on any node:
#
#   bin/rnnlab merge results/decay_sweep
#
# which writes the same decay.csv, summary.csv and layers.csv, byte for byte, as one `rnnlab run`.
#
#SBATCH --job-name=rnnlab
#SBATCH --cpus-per-task=2
#SBATCH --time=02:00:00
#SBATCH --output=rnnlab-%A_%a.log
set -euo pipefail

usage="usage: sbatch --array=0-(N-1) experiments/slurm-array.sh FILE.ini N"
file=${1:?$usage}
n=${2:?$usage (N: the number of shards)}
k=${SLURM_ARRAY_TASK_ID:?run me with sbatch --array}
if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 2 ] || [ "$k" -ge "$n" ]; then
  echo "slurm-array.sh: task $k of $n shards: N must be a whole number >= 2 and above every task id ($usage)" >&2
  exit 2
fi
cd "${SLURM_SUBMIT_DIR:-.}"
exec bin/rnnlab run --quiet --no-plot --threads "${SLURM_CPUS_PER_TASK:-1}" --shard "$k/$n" "$file"
