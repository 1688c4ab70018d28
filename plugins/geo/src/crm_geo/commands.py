"""`crm geo …`: geocoding, radius search, location consent and bulk geocoding.

Commands run as the system actor (whoever can run `crm` on the server administers it) and
call the same services as the API. ``--json`` output is a stable interface for scripts.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from crmcore.cli.context import CLIContext, echo_json, pass_ctx


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(getattr(exc, "message", str(exc)))


@click.group(name="geo")
def geo() -> None:
    """Locations, geocoding, geofences and location consent."""


@geo.command("geocode")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help='{"lat": …, "lon": …, "name": …}')
@pass_ctx
def geocode_command(obj: CLIContext, text: str, as_json: bool) -> None:
    """Coordinates of a place name (English or Persian), without any network access."""
    from crm_geo.geocoding import geocode_text

    place = obj.run(lambda _db: geocode_text(text, obj.pm))
    if place is None:
        raise click.ClickException(f"no known place is called {text!r}")
    if as_json:
        echo_json(
            {
                "lat": place.lat,
                "lon": place.lon,
                "name": place.name,
                "country_code": place.country_code,
                "precision_km": place.precision_km,
            }
        )
        return
    click.echo(f"{place.name}, {place.country_code}: {place.lat:.5f}, {place.lon:.5f}")


@geo.command("near")
@click.option("--lat", type=float, help="Latitude of the centre.")
@click.option("--lon", type=float, help="Longitude of the centre.")
@click.option("--city", help="Measure from this city instead (English or Persian name).")
@click.option("--contact", "contact_id", type=int, help="Measure from this contact instead.")
@click.option("--km", type=float, required=True, help="Radius in kilometres.")
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array with id and distance_km.")
@pass_ctx
def near_command(
    obj: CLIContext,
    lat: float | None,
    lon: float | None,
    city: str | None,
    contact_id: int | None,
    km: float,
    limit: int,
    as_json: bool,
) -> None:
    """Contacts within KM of a point, a city or a contact, nearest first."""
    from crm_geo.queries import resolve_center, within_radius
    from crmcore.errors import CRMError
    from crmcore.services.actor import SYSTEM

    async def go(_db: Any) -> list[dict[str, Any]]:
        center = await resolve_center(SYSTEM, lat=lat, lon=lon, contact_id=contact_id, city=city)
        hits = await within_radius(
            SYSTEM, center.lat, center.lon, km, kinds=["contact"], limit=limit + 1
        )
        return [h.as_dict() for h in hits if h.id != center.id][:limit]

    try:
        hits = obj.run(go)
    except CRMError as exc:
        raise _fail(exc) from exc
    if as_json:
        echo_json(
            [
                {
                    "id": h["id"],
                    "name": h["name"],
                    "distance_km": round(h["distance_km"], 4),
                    "lat": h["lat"],
                    "lon": h["lon"],
                }
                for h in hits
            ]
        )
        return
    for hit in hits:
        click.echo(f"#{hit['id']:<8} {hit['distance_km']:>9.2f} km  {hit['name']}")
    if not hits:
        click.echo("Nobody within that distance.")


@geo.command("consent")
@click.argument("contact_id", metavar="CONTACT", type=int)
@click.option("--grant/--revoke", "granted", required=True, help="Grant or revoke tracking.")
@click.option("--source", default="cli", show_default=True, help="Where the statement came from.")
@pass_ctx
def consent_command(obj: CLIContext, contact_id: int, granted: bool, source: str) -> None:
    """Record that CONTACT (an id) granted or revoked location tracking."""
    from crm_geo.consent import set_location_consent
    from crmcore.errors import CRMError
    from crmcore.services.actor import SYSTEM

    try:
        state = obj.run(lambda _db: set_location_consent(contact_id, granted, source, SYSTEM))
    except CRMError as exc:
        raise _fail(exc) from exc
    word = "granted" if state["granted"] else "revoked"
    click.echo(f"Location consent of contact {contact_id}: {word} ({source}).")


@geo.command("geocode-all")
@click.option(
    "--background", is_flag=True, help="Queue the job for the worker instead of running it here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON at the end.")
@pass_ctx
def geocode_all_command(obj: CLIContext, background: bool, as_json: bool) -> None:
    """Geocode every contact and company that has an address but no location."""
    from crm_geo.bulk import run_geocode, start_geocode_run
    from crmcore.services.actor import SYSTEM

    if background:
        run = obj.run(lambda _db: start_geocode_run(SYSTEM, background=True))
        if as_json:
            echo_json(run)
        else:
            click.echo(f"Queued geocoding run {run['id']} (job {run['job_id']}).")
        return

    async def go(_db: Any) -> dict[str, Any]:
        run = await start_geocode_run(SYSTEM, background=False)
        with click.progressbar(length=1, label="Geocoding", show_pos=True, file=sys.stderr) as bar:
            done = 0

            def advance(state: dict[str, Any]) -> None:
                nonlocal done
                bar.length = max(state["total"], 1)
                bar.update(state["processed"] - done)
                done = state["processed"]

            return await run_geocode(run["id"], advance)

    run = obj.run(go)
    if as_json:
        echo_json(run)
        return
    click.echo(
        f"Geocoded {run['geocoded']} of {run['total']} records "
        f"({run['not_found']} addresses name no known place)."
    )
