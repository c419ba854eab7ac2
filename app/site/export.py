"""A static copy of a published funnel: a zip that any web server (or a double click) can serve.

    index.html            -> goes to the first step
    <step slug>/index.html  one folder per published step
    assets/<file>           the images, social image and favicon it uses
    site.js                 the published pages' script

Made by a background job (`start` enqueues app.site.tasks.run_export, which calls `write`) from the
stored published documents (exactly what visitors get): links between steps become relative
(../<slug>/index.html), assets are copied and referenced relatively, and forms keep posting to the
live site (absolute URL) with long-lived export tokens, so leads still reach the CRM.

The copy has no tracker (static/site/track.js): the site adds its tag when it serves a page, never to the
stored document, and a copy served elsewhere, from another origin, would send events the endpoint refuses
(its Origin is not the site nor the funnel's domain) under addresses that are not the funnel's.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from flask import current_app

from app.core import jobs
from app.core.db import utcnow
from app.core.errors import ConflictError
from app.funnels import publishing
from app.site.serving import fill_tokens

ATTRIBUTE = re.compile(r'(?<!rel="canonical" )\b(src|href|action)="([^"]*)"')
STATIC_PREFIXES = ("/static/img/", "/static/site/")  # the app's own pictures a page may use (templates)


def published_steps(funnel) -> list:
    return [step for step in funnel.steps if step.page is not None and step.page.is_published]


def start(account, funnel, actor=None):
    """The tracked job that writes the zip (`app.site.tasks.run_export`); ConflictError when nothing of
    the funnel is published."""
    from app.site import tasks  # the job this starts (tasks call this service, so it is imported here)

    if not published_steps(funnel):
        raise ConflictError("Nothing to export: publish the funnel first (the export copies the published pages).")
    job = jobs.create_job(account, "funnel_export", f"Static copy of {funnel.name}", user=actor)
    jobs.enqueue(tasks.run_export, funnel.id, job=job)
    return job


def write(job_id: str, funnel) -> dict:
    """Write the zip of the funnel's published pages (progress reported on the job); the job's result."""
    steps = published_steps(funnel)
    folder = Path(current_app.config["EXPORTS_DIR"]) / str(funnel.account_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"funnel-{funnel.slug}-{job_id}.zip"
    copier = _Copier(funnel, steps)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, step in enumerate(steps):
            archive.writestr(f"{step.slug}/index.html", copier.document(step))
            jobs.progress(job_id, (index + 1) * 80 // max(len(steps), 1), f"{index + 1} of {len(steps)} pages")
        if steps:
            archive.writestr("index.html", _redirect_page(steps[0].slug, funnel.name))
        files = copier.files()
        for name, data in files.items():
            archive.writestr(name, data)
    jobs.progress(job_id, 95, "Zip written")
    return {"path": str(path), "name": f"{funnel.slug}-static-{utcnow():%Y-%m-%d}.zip",
            "message": f"{len(steps)} page{'' if len(steps) == 1 else 's'} and {len(files)} "
                       f"file{'' if len(files) == 1 else 's'} exported."}


class _Copier:
    """Rewrites a published document for the static copy and collects the files it needs."""

    def __init__(self, funnel, steps):
        self.funnel = funnel
        self.site_url = current_app.config["SITE_URL"].rstrip("/")
        self.step_paths = {publishing.public_url(step): f"../{step.slug}/index.html" for step in steps}
        self.assets: dict[str, str] = {}  # storage key -> name in assets/
        self.statics: dict[str, str] = {}  # path under static/ -> name in assets/
        self.needs_script = False

    def document(self, step) -> str:
        page = step.page
        html = publishing.visible_document(page.published_html)
        html = fill_tokens(html, page.id, export=True)
        return ATTRIBUTE.sub(lambda match: self._attribute(match, page), html)

    def _attribute(self, match, page) -> str:
        from html import unescape

        from markupsafe import escape

        name, value = match[1], unescape(match[2])
        return f'{name}="{escape(self._rewrite(name, value, page))}"'

    def _rewrite(self, name: str, url: str, page) -> str:
        if name == "action":
            return self.site_url + url if url.startswith("/") else url  # forms post to the live site
        bare = url.split("#")[0].split("?")[0]
        if bare in self.step_paths:
            fragment = url[len(bare):] if "#" in url else ""
            return self.step_paths[bare] + fragment
        if url.startswith(publishing.SITE_SCRIPT_URL):
            self.needs_script = True
            return "../site.js"
        asset_prefix = self.site_url + "/_assets/"
        if url.startswith(asset_prefix):
            key = url[len(asset_prefix):]
            self.assets.setdefault(key, key.replace("/", "-"))
            return f"../assets/{self.assets[key]}"
        if bare.startswith(STATIC_PREFIXES) and ".." not in bare:
            relative = bare[len("/static/"):]
            self.statics.setdefault(relative, "static-" + relative.replace("/", "-"))
            return f"../assets/{self.statics[relative]}"
        if url.startswith("/") and not url.startswith("//"):
            return self.site_url + url  # any other site path: the live site
        return url

    def files(self) -> dict[str, bytes]:
        from app.core.storage import get_storage
        from app.pages.render import site_script

        storage = get_storage()
        out = {}
        for key, name in self.assets.items():
            try:
                out[f"assets/{name}"] = storage.open(key)
            except Exception:  # a file missing from storage: the copy goes without it
                current_app.logger.warning("export: asset %s is missing", key)
        if self.needs_script:
            out["site.js"] = site_script()
        for relative, name in self.statics.items():
            path = Path(current_app.static_folder) / relative
            if path.is_file():
                out[f"assets/{name}"] = path.read_bytes()
        return out


def _redirect_page(slug: str, name: str) -> str:
    from markupsafe import escape

    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(name)}</title>'
            f'<meta http-equiv="refresh" content="0; url={slug}/index.html"></head>'
            f'<body><p><a href="{slug}/index.html">{escape(name)}</a></p></body></html>\n')
