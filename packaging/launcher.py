"""The frozen app's entry point: the same `assistant` command as a checkout's."""

import multiprocessing
import sys

from assistant.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch/transformers may start helper processes
    sys.exit(main())
