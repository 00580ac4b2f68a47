from careledger.main.cli import main

main()
