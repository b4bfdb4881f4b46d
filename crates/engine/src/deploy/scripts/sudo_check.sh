# Run through sudo with nothing else on standard input: proves that sudo accepts the
# credential (a wrong password must not make sudo read the job or the deployer).
exit 0
