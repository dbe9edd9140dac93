"""`python -m vcluster.wireshark --regenerate`: rewrite the dissector's tables from the Python enums."""

from __future__ import annotations

import sys

from vcluster.wireshark import lua_path, regenerate

if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        print(
            "usage: python -m vcluster.wireshark --regenerate (users: `vcluster wireshark`)",
            file=sys.stderr,
        )
        sys.exit(2)
    print(f"{lua_path()}: {'updated' if regenerate() else 'already up to date'}")
