from lrkit.cli import main

main()
