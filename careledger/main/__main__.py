"""`python -m careledger.main`: the `careledger` command, as the processes `up` starts."""

from careledger.main.cli import main

main()
