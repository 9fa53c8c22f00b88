"""``brokerjobs dashboard``: serve the operators' web UI (needs ``brokerjobs[dashboard]``)."""

from __future__ import annotations

import click

from brokerjobs.cli.common import (
    CommandFailed,
    UsageProblem,
    app_option,
    backend_option,
    import_apps,
    open_backend,
    split_queues,
)
from brokerjobs.cli.stats import default_queues, shown_queues_option
from brokerjobs.errors import ConfigurationError

INSTALL_HINT = 'the dashboard needs its extra: pip install "brokerjobs[dashboard]"'


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@shown_queues_option
@click.option(
    "--read-only",
    is_flag=True,
    default=None,
    help="Refuse replay and purge [default: $BROKERJOBS_DASHBOARD_READ_ONLY].",
)
@backend_option
@app_option
def dashboard(
    host: str,
    port: int,
    queue_list: str | None,
    read_only: bool | None,
    backend_name: str | None,
    apps: tuple[str, ...],
) -> None:
    """Serve the web dashboard: queues, dead letters (replay, purge), workers.

    A credential is required: BROKERJOBS_DASHBOARD_TOKEN, or BROKERJOBS_DASHBOARD_USERNAME
    and BROKERJOBS_DASHBOARD_PASSWORD (basic auth). On a loopback address without one, a
    one-off token is made up and the login URL printed; other addresses refuse to start.
    """
    try:
        import uvicorn

        from brokerjobs.dashboard import Dashboard, DashboardSettings, check_bind, create_app
    except ImportError as exc:
        raise CommandFailed(f"{INSTALL_HINT} ({exc})") from None
    from brokerjobs.telemetry.redact import register_environment_secrets

    register_environment_secrets()
    import_apps(apps)
    settings = DashboardSettings()
    if read_only is not None:
        settings = settings.model_copy(update={"read_only": read_only})
    try:
        check_bind(host, settings)
    except ConfigurationError as exc:
        raise UsageProblem("--host", str(exc)) from None
    generated = not settings.has_credential
    if generated:
        settings = settings.with_generated_token()
    queues = split_queues(queue_list) or default_queues()
    app = create_app(Dashboard(open_backend(backend_name), queues, settings))
    shown = f"[{host}]" if ":" in host else host
    if generated and settings.token is not None:
        click.echo(
            f"dashboard: http://{shown}:{port}/login?token={settings.token.get_secret_value()}",
            err=True,
        )
    else:
        click.echo(f"dashboard: http://{shown}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
