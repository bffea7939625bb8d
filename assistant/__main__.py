from __future__ import annotations

from assistant.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
