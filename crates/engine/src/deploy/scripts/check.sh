# Prints the task's record and, while the deployer runs, the ALIVE marker; when it
# does not run, removes what secrets and package files it may have left.
# Arguments: DIR JOB PID TASK_PID RECORD DEPLOYER_LOG FILES, then ALIVE (the marker).
D=$1 job=$2 pid=$3 record=$5 files=$7
shift 7
alive=$1
cat "$D/$record" 2>/dev/null || true
p=$(cat "$D/$pid" 2>/dev/null || true)
if [ -n "$p" ] && grep -q drover-deployer "/proc/$p/cmdline" 2>/dev/null; then
  echo "$alive"
else
  rm -rf "${D:?}/$job" "${D:?}/$files"
fi
