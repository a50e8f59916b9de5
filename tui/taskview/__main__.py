from taskview.cli import main

main(prog_name="taskview")
