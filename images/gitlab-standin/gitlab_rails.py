#!/usr/bin/env python3
"""`gitlab-rails` for the GitLab STAND-IN. Only `gitlab-rails runner [-e ENV] '<ruby>'` (or a .rb
file) is supported. The Ruby is not run; the stand-in recognises two things in it:

Root password: statements (split on `;` and newlines) such as
    pw = File.read('/run/secrets/dap/gitlab_root_password').strip
    u.password = pw; u.password_confirmation = pw; u.save!
set root's password when `<user>.password = ` is assigned (a variable, `File.read('<path>')`
with optional `.strip`, `STDIN.read[.strip]` or a quoted literal) and `<user>.save`/`save!`
follows. Files are read as root (the secret is 0400 root), then the tool drops to user `git`.
A missing file, an empty or too short password (< 8) or a different `password_confirmation`
fails like Ruby (message on stderr, exit 1) and changes nothing.

Personal access token (unless the code only sets a password): a token for root is created and
printed on stdout (the way the platform creates its API token). If the code sets the token value
itself (`token.set_token('glpat-...')`, or `set_token(t)` with `t = STDIN.read...`), that value is
stored; from stdin it is not echoed (prints `token stored`). Code containing `revoke!` first
revokes the earlier tokens with the same `name:`."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitlab_standin  # noqa: E402


class RubyError(Exception):
    pass


_stdin_cache = []


def read_stdin():
    if not _stdin_cache:
        _stdin_cache.append(sys.stdin.read())
    return _stdin_cache[0]


def split_statements(code):
    """Split Ruby code on `;` and newlines outside string literals."""
    out, cur, quote, esc = [], [], None, False
    for ch in code:
        if quote:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch in ";\n":
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [s for s in out if s and not s.startswith("#")]


_STR = r"""(?P<q>['"])(?P<lit>(?:\\.|(?!(?P=q)).)*)(?P=q)"""


def evaluate(expr, env):
    """The value of a (tiny) Ruby expression, or None when the stand-in does not understand it."""
    expr = expr.strip()
    m = re.fullmatch(r"(?:STDIN|\$stdin)\.read(\.strip|\.chomp)?", expr)
    if m:
        v = read_stdin()
        return v.strip(" \t\n\v\f\r\0") if m.group(1) == ".strip" else \
            (v[:-1] if m.group(1) == ".chomp" and v.endswith("\n") else v)
    m = re.fullmatch(r"File\.read\(\s*" + _STR + r"\s*\)(?P<m>\.strip|\.chomp)?", expr)
    if m:
        path = m.group("lit")
        try:
            v = gitlab_standin.ruby_file_read(path, m.group("m") == ".strip")
        except FileNotFoundError:
            raise RubyError(f"No such file or directory @ rb_sysopen - {path} (Errno::ENOENT)")
        except PermissionError:
            raise RubyError(f"Permission denied @ rb_sysopen - {path} (Errno::EACCES)")
        except OSError as e:
            raise RubyError(f"{e.strerror} @ rb_sysopen - {path} (SystemCallError)")
        return v[:-1] if m.group("m") == ".chomp" and v.endswith("\n") else v
    m = re.fullmatch(_STR, expr)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group("lit"))
    if re.fullmatch(r"[a-z_]\w*", expr) and expr in env:
        return env[expr]
    return None


def password_change(code):
    """Walk the statements; return the new root password to store (validated) or None."""
    env, users, pending, confirm, result = {}, {}, {}, {}, None
    for st in split_statements(code):
        m = re.fullmatch(r"([a-z_]\w*)\.password\s*=\s*(.+)", st)
        if m:
            pending[m.group(1)] = evaluate(m.group(2), env)
            continue
        m = re.fullmatch(r"([a-z_]\w*)\.password_confirmation\s*=\s*(.+)", st)
        if m:
            confirm[m.group(1)] = evaluate(m.group(2), env)
            continue
        m = re.fullmatch(r"([a-z_]\w*)\.save!?(?:\(.*\))?", st)
        if m and m.group(1) in pending:
            recv = m.group(1)
            if users.get(recv, "root") != "root":
                raise RubyError(f"undefined method `password=' for nil:NilClass (NoMethodError) "
                                f"(the stand-in has only the user root)")
            pw = pending.pop(recv)
            if pw is None:
                raise RubyError("the GitLab stand-in cannot evaluate the password expression")
            problem = gitlab_standin.password_problem(pw)
            if problem is None and recv in confirm and confirm[recv] != pw:
                problem = "Password confirmation doesn't match Password"
            if problem:
                raise RubyError(f"Validation failed: {problem} (ActiveRecord::RecordInvalid)")
            result = pw
            continue
        m = re.fullmatch(r"([a-z_]\w*)\s*=\s*(.+)", st)
        if m:
            name, rhs = m.groups()
            u = re.fullmatch(r"User\.find_by(?:_username\(\s*|\(\s*username:\s*)" + _STR + r"\s*\)!?", rhs)
            if u:
                users[name] = u.group("lit").lower()
            elif re.fullmatch(r"User\.(?:first|admins\.first|find\(\s*1\s*\))", rhs):
                users[name] = "root"
            else:
                env[name] = evaluate(rhs, env)
    return result


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

    # Everything that needs root (the 0400 secret) or stdin is read first, then privileges drop.
    sets_password = re.search(r"\.password\s*=[^=]", code) is not None
    try:
        new_password = password_change(code) if sets_password else None
    except RubyError as e:
        print(f"gitlab-rails runner (stand-in): {e}", file=sys.stderr)
        return 1
    m = re.search(r"""set_token\(\s*['"]([^'"]+)['"]\s*\)""", code)
    from_stdin = m is None and "STDIN.read" in code and "set_token(" in code
    if from_stdin:
        # `t = STDIN.read.strip ... set_token(t)`: the caller chose the value; like the real Ruby, print no token
        m = re.match(r"(.*)", read_stdin().strip())
    gitlab_standin.drop_to_git()

    if new_password is not None:
        gitlab_standin.set_root_password(new_password)
        print("root password updated (stand-in)", file=sys.stderr)
    wants_pat = not sets_password or "personal_access_token" in code or "set_token(" in code
    if not wants_pat:
        puts = re.search(r"""puts\s+(['"])([^'"]*)\1""", code)
        if puts:
            print(puts.group(2))
        return 0
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
