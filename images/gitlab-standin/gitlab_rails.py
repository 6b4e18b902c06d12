#!/usr/bin/env python3
"""`gitlab-rails` for the GitLab STAND-IN. Only `gitlab-rails runner [-e ENV] '<ruby>'` (or a .rb
file) is supported, and whatever the Ruby code says, it creates a personal access token for root
and prints it on stdout (the way the platform creates its API token). If the code sets the token
value itself (`token.set_token('glpat-...')`, or `set_token(t)` with `t = STDIN.read...`), that value is
stored and printed instead."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitlab_standin  # noqa: E402


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] in ("-v", "--version", "version"):
        print(f"gitlab-rails stand-in {gitlab_standin.VERSION}")
        return 0
    if argv[0] not in ("runner", "r"):
        print(f"gitlab-rails stand-in: only `runner` is supported (got {argv[0]!r})", file=sys.stderr)
        return 1
    args = argv[1:]
    code = None
    while args:
        a = args.pop(0)
        if a in ("-e", "--environment"):
            args and args.pop(0)
        elif a.startswith("--environment="):
            continue
        else:
            code = a
            break
    if code is None:
        print("gitlab-rails runner: missing Ruby code", file=sys.stderr)
        return 1
    if os.path.isfile(code):
        with open(code, encoding="utf-8") as f:
            code = f.read()
    m = re.search(r"""set_token\(\s*['"]([^'"]+)['"]\s*\)""", code)
    from_stdin = m is None and "STDIN.read" in code and "set_token(" in code
    if from_stdin:
        # `t = STDIN.read.strip ... set_token(t)`: the caller chose the value; like the real Ruby, print no token
        m = re.match(r"(.*)", sys.stdin.read().strip())
    name = re.search(r"""name:\s*['"]([^'"]+)['"]""", code)
    scopes = re.search(r"scopes:\s*\[([^\]]*)\]", code)
    scope_list = re.findall(r"[:'\"]?(\w+)['\"]?", scopes.group(1)) if scopes else None
    # `...where(name: 'x').each(&:revoke!)` before creating: earlier tokens of that name stop working.
    token = gitlab_standin.new_pat(m.group(1) if m else None, name.group(1) if name else "dap",
                                   scope_list, revoke_same_name="revoke!" in code)
    print("token stored" if from_stdin else token)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
