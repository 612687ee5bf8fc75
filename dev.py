#!/usr/bin/env python3
"""Sozialraum developer commands: all set-up in one step, standard library only.

    python3 dev.py run [ADDR:PORT]  virtualenv, dependencies, migrations, demo city,
                                    demo logins (printed), server on http://127.0.0.1:8000
    python3 dev.py test [ARGS]      the whole test suite (ARGS go to pytest)
    python3 dev.py bench [ARGS]     the benchmarks (bench/run_all.py)
    python3 dev.py stopdb           stop the embedded PostgreSQL server

The virtualenv lives in .venv/. Dependencies (requirements-dev.txt) are installed
with pip only when a requirements file changed since the last install (a hash in
.venv/.stamp-requirements). Without DATABASE_URL an embedded PostgreSQL server
starts by itself (data in .pgdata/); without REDIS_URL background tasks run at once
in-process. Exit codes of the commands run are passed on.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

MIN_PYTHON = (3, 11)
ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "requirements-dev.txt"
STAMP = VENV / ".stamp-requirements"
HOST_PORT = "127.0.0.1:8000"

USAGE = __doc__.split("\n\n")[1]


def say(message):
    print(f"[dev.py] {message}", flush=True)


def fail(message, code=1):
    print(f"[dev.py] ERROR: {message}", file=sys.stderr, flush=True)
    return code


def venv_python():
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def _python_works(python):
    if not python.exists():
        return False
    try:
        return subprocess.run([str(python), "-c", "import sys; sys.exit(0)"], capture_output=True).returncode == 0
    except OSError:
        return False


def _requirement_files(path, seen=None):
    """The requirements file and every file it includes with -r/--requirement."""
    seen = [] if seen is None else seen
    path = path.resolve()
    if path in seen or not path.is_file():
        return seen
    seen.append(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        for prefix in ("-r ", "--requirement ", "--requirement="):
            if line.startswith(prefix):
                _requirement_files(path.parent / line[len(prefix):].strip(), seen)
    return seen


def requirements_hash():
    digest = hashlib.sha256()
    for path in _requirement_files(REQUIREMENTS):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_venv():
    """Create .venv if needed and install the requirements if they changed.
    Returns the venv's python (a Path) or an exit code (int) on failure."""
    python = venv_python()
    if not _python_works(python):
        if VENV.exists():
            say(f"{VENV} is broken (its Python does not start): recreating it.")
        say(f"Creating the virtualenv in {VENV} with Python {sys.version.split()[0]} …")
        result = subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)])
        if result.returncode != 0 or not _python_works(python):
            return fail(
                "could not create the virtualenv. On Debian/Ubuntu install the venv module first: "
                "sudo apt-get install python3-venv",
                result.returncode or 1,
            )
    if not REQUIREMENTS.is_file():
        return fail(f"{REQUIREMENTS} not found")
    wanted = requirements_hash()
    current = STAMP.read_text(encoding="utf-8").strip() if STAMP.is_file() else ""
    if current != wanted:
        say("Installing dependencies (requirements changed or first run; this can take a few minutes) …")
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            cwd=ROOT,
        )
        if result.returncode != 0:
            return fail("pip install failed (see above); nothing was marked as installed.", result.returncode)
        STAMP.write_text(wanted + "\n", encoding="utf-8")
    return python


def _run(cmd, env=None):
    """Run a command in the project directory; return its exit code. Ctrl-C ends
    the child (it gets the signal too) and this waits for it."""
    proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def cmd_run(args):
    python = ensure_venv()
    if isinstance(python, int):
        return python
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "sozialraum.settings.dev")
    if not env.get("DATABASE_URL"):
        say("No DATABASE_URL: using the embedded PostgreSQL server (data in .pgdata/, "
            "stop it with: python3 dev.py stopdb).")
    if not env.get("REDIS_URL"):
        say("No REDIS_URL: background tasks (imports) run at once in the web process.")
    steps = [
        ("Applying database migrations …", ["manage.py", "migrate", "--noinput"]),
        ("Loading the demo city (Berlin) and creating the demo logins …", ["manage.py", "load_demo"]),
    ]
    for message, step in steps:
        say(message)
        code = _run([python, *step], env)
        if code != 0:
            return fail(f"'{' '.join(step)}' failed with exit code {code}.", code)
    host_port = HOST_PORT
    if args and not args[0].startswith("-"):
        host_port, args = args[0], args[1:]
        if host_port.isdigit():
            host_port = f"127.0.0.1:{host_port}"
    say(f"Starting the server on http://{host_port}/ — sign in with a demo login printed above. Stop with Ctrl-C.")
    code = _run([python, "manage.py", "runserver", host_port, *args], env)
    if code in (0, -2, 130):  # stopped with Ctrl-C
        say("Server stopped.")
        return 0
    return code


def cmd_test(args):
    python = ensure_venv()
    if isinstance(python, int):
        return python
    env = dict(os.environ)
    # pytest.ini names the test settings; an exported DJANGO_SETTINGS_MODULE would win over it.
    env["DJANGO_SETTINGS_MODULE"] = "sozialraum.settings.test"
    say("Database: " + ("DATABASE_URL" if env.get("DATABASE_URL") else "embedded PostgreSQL (no DATABASE_URL)")
        + "; Redis: " + ("REDIS_URL (worker tests run)" if env.get("REDIS_URL") else
                         "none (tasks run eagerly; worker tests are skipped)"))
    return _run([python, "-m", "pytest", *args], env)


def cmd_bench(args):
    script = ROOT / "bench" / "run_all.py"
    if not script.is_file():
        return fail(f"{script.relative_to(ROOT)} not found.")
    python = ensure_venv()
    if isinstance(python, int):
        return python
    return _run([python, script, *args])


_STOPDB = """
import warnings
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
from sozialraum.settings import embedded
embedded.stop()
"""


def cmd_stopdb(args):
    if not _python_works(venv_python()):
        say("No virtualenv yet, so no embedded PostgreSQL server was started: nothing to stop.")
        return 0
    code = _run([venv_python(), "-c", _STOPDB])
    if code != 0:
        return fail("could not stop the embedded PostgreSQL server (see above).", code)
    if (ROOT / ".pgdata" / "postmaster.pid").exists():
        return fail("the embedded PostgreSQL server is still running (.pgdata/postmaster.pid exists).")
    say("The embedded PostgreSQL server is stopped.")
    return 0


COMMANDS = {"run": cmd_run, "test": cmd_test, "bench": cmd_bench, "stopdb": cmd_stopdb}


def main(argv):
    if sys.version_info < MIN_PYTHON:
        return fail(
            "Python %d.%d or newer is needed (this is %s)." % (MIN_PYTHON + (sys.version.split()[0],))
        )
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("Usage:\n" + USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"Unknown command {argv[0]!r}.\n\nUsage:\n{USAGE}", file=sys.stderr)
        return 2
    code = command(argv[1:])
    return 128 - code if code < 0 else code  # a child killed by signal N: 128+N, as shells report it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
