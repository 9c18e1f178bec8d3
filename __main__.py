"""``python -m paperbridge``: the same command as ``paperbridge``."""

from paperbridge.cli import main

if __name__ == "__main__":
    main()
