#!/bin/bash
# slurm-array.sh - run an rnnlab experiment as a Slurm job array, one shard per array task.
#
#   sbatch --array=0-15 experiments/slurm-array.sh experiments/decay_sweep.ini
#
# Each task runs `rnnlab run --shard K/N FILE` with K = $SLURM_ARRAY_TASK_ID and N = the number of
# tasks in the array, into <output dir>/shard-K-of-N/ (the output folder must be on a file system
# every node sees). A task that is killed or preempted resumes where it stopped when it runs again
# (sbatch --array=K ...). When every task has finished, combine the shards on any node:
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

file=${1:?usage: sbatch --array=0-(N-1) experiments/slurm-array.sh FILE.ini}
k=${SLURM_ARRAY_TASK_ID:?run me with sbatch --array}
n=${SLURM_ARRAY_TASK_COUNT:?run me with sbatch --array}
cd "${SLURM_SUBMIT_DIR:-.}"
exec bin/rnnlab run --quiet --no-plot --threads "${SLURM_CPUS_PER_TASK:-1}" --shard "$k/$n" "$file"
