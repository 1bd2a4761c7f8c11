"""`enclave serve` (the web page with hardened Streamlit flags) and `enclave user add` (local accounts)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

user_app = typer.Typer(no_args_is_help=True, help="Local accounts for the web page (passwords in the policy directory).")

APP_SCRIPT = Path(__file__).resolve().parents[1] / "ui" / "app.py"
COOKIE_SECRET_FILE = "ui-cookie-secret"
OIDC_SECRETS_FILE = "ui-secrets.toml"


def streamlit_command(settings: Any, port: int | None = None, host: str | None = None) -> list[str]:
    """The `streamlit run` command line with every hardening flag spelled out (flags win over any config file)."""
    ui = settings.ui
    flags = {
        "server.address": host or ui.host,
        "server.port": str(port or ui.port),
        "server.headless": "true",
        "server.enableXsrfProtection": "true",
        "server.enableCORS": "true",
        "server.maxUploadSize": str(ui.max_upload_mb),
        "server.maxMessageSize": "50",
        "server.enableStaticServing": "false",
        "server.fileWatcherType": "none",
        "server.runOnSave": "false",
        "browser.gatherUsageStats": "false",
        "browser.serverAddress": host or ui.host,
        "client.showErrorDetails": "none",
        "client.toolbarMode": "minimal",
        "global.developmentMode": "false",
        "secrets.files": str(Path(settings.home).resolve() / OIDC_SECRETS_FILE),
    }
    args = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)]
    for key, value in flags.items():
        args.append(f"--{key}={value}")
    return args


def cookie_secret(home: Path) -> str:
    """The per-install secret that signs Streamlit's XSRF and auth cookies (created once, mode 0600)."""
    path = Path(home) / COOKIE_SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def serve(
    port: Annotated[int | None, typer.Option("--port", help="Port (default: ui.port, 8501).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Listen address (default: ui.host, 127.0.0.1).")] = None,
) -> None:
    """Start the web page on the configured address (loopback by default)."""
    from rich.console import Console

    from enclave.settings import load_settings
    from policies.session import is_loopback

    settings = load_settings()
    err = Console(stderr=True)
    listen = host or settings.ui.host
    if settings.ui.auth == "proxy_header" and not is_loopback(listen):
        err.print(
            f"[bold red]error:[/] ui.auth = proxy_header needs a loopback listen address, not {listen}\n"
            "  next step: keep ui.host = 127.0.0.1 behind the proxy, or use ui.auth = local / oidc"
        )
        raise typer.Exit(1)
    if not is_loopback(listen):
        err.print(f"[yellow]note:[/] listening on {listen}: put TLS in front of it (a reverse proxy) for other machines")
    env = dict(os.environ)
    env["ENCLAVE_HOME"] = str(Path(settings.home).resolve())
    env["STREAMLIT_SERVER_COOKIE_SECRET"] = cookie_secret(settings.home)
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    command = streamlit_command(settings, port=port, host=host)
    err.print(f"Enclave on http://{listen}:{port or settings.ui.port} (sign-in: {settings.ui.auth})")
    if env.get("ENCLAVE_CONFIG"):
        env["ENCLAVE_CONFIG"] = str(Path(env["ENCLAVE_CONFIG"]).resolve())
    # Scheduled syncs run beside the page in their own process; both share the store in short sessions.
    children: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the children on the way out
    try:
        if settings.ingest.schedule_enabled:
            children.append(subprocess.Popen([sys.executable, "-m", "enclave", "schedule"], env=env))
            err.print(f"scheduled ingest running (pid {children[-1].pid})")
        children.append(subprocess.Popen(command, env=env))
        code = children[-1].wait()
    finally:
        for child in reversed(children):
            _stop(child)
    sys.exit(code)


def _stop(child: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Terminate a child process, killing it when it does not exit within the grace period."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name, as listed under users: in the policy.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
) -> None:
    """Set (or replace) the password of NAME for local sign-in."""
    from enclave.settings import load_settings
    from policies.accounts import set_password
    from policies.errors import PolicyError
    from policies.load import load_policy

    settings = load_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    path = set_password(settings.policy_dir, name, password)
    typer.echo(f"password set for '{name}' in {path}")
    try:
        listed = name in load_policy(settings.policy_dir).users
    except PolicyError:
        listed = False
    if not listed:
        typer.echo(f"note: '{name}' is not under users: in the policy yet, so they cannot sign in until added", err=True)


@user_app.command("remove")
def user_remove(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Delete the password of NAME (they can no longer sign in locally)."""
    from enclave.settings import load_settings
    from policies.accounts import remove_user

    settings = load_settings()
    removed = remove_user(settings.policy_dir, name)
    typer.echo(f"password of '{name}' removed" if removed else f"'{name}' had no password")
