"""The static copy of a published funnel: a job writes a zip of the pages and their assets."""
import io
import re
import zipfile

from PIL import Image
from werkzeug.datastructures import FileStorage

from app.assets import services as assets
from app.builder.services import save_tree, update_settings
from app.core.models import Job
from app.extensions import db
from app.funnels import publishing
from app.pages import tree as trees
from tests.conftest import run_jobs
from tests.factories import login as log_in
from tests.factories import make_account, make_user
from tests.site.conftest import make_funnel, site_get


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "#2563eb").save(buffer, "PNG")
    return buffer.getvalue()


def funnel_with_image(account, user):
    funnel = make_funnel(account, user)
    image = assets.upload(account, FileStorage(io.BytesIO(png()), filename="hero.png"), actor=user, alt="Hero")
    page = funnel.steps[1].page
    tree = trees.validate(page.tree)
    tree["children"][0]["children"][0]["children"][0]["children"].append(trees.new_element(
        "image", props={"asset_id": str(image.id), "alt": "Our hero", "width": 40, "height": 20}))
    tree["children"][0]["children"][0]["children"][0]["children"].append(trees.new_element(
        "image", props={"src": "/static/img/placeholder.svg", "alt": "A placeholder"}))
    save_tree(account, page, tree, user)
    update_settings(account, page, {"og_image_id": str(image.id)}, user)
    publishing.publish_funnel(account, funnel, user)
    return funnel, image


def test_export_job_writes_a_zip_of_pages_and_assets(client, owner, app):
    user, account = owner
    funnel, image = funnel_with_image(account, user)
    log_in(client, user, account)
    response = client.post(f"/funnels/{funnel.id}/export")
    assert response.status_code == 303
    job = db.session.query(Job).one()
    assert response.headers["Location"].endswith(f"/funnels/{funnel.id}/export/{job.id}")
    progress = client.get(response.headers["Location"])
    assert progress.status_code == 200 and "Static copy of Free guide" in progress.text
    run_jobs(app)
    db.session.refresh(job)
    assert job.state == "finished" and job.progress == 100 and "2 pages and 3 files" in job.message
    finished = client.get(f"/funnels/{funnel.id}/export/{job.id}")
    assert "Download" in finished.text
    with client.get(f"/jobs/{job.id}/download") as download:
        archive = zipfile.ZipFile(io.BytesIO(download.data))
    names = set(archive.namelist())
    asset_name = "assets/" + image.storage_key.replace("/", "-")
    assert {"index.html", "opt-in/index.html", "thanks/index.html", "site.js", asset_name,
            "assets/static-img-placeholder.svg"} <= names
    assert archive.read(asset_name) == png()
    opt_in = archive.read("opt-in/index.html").decode()
    thanks = archive.read("thanks/index.html").decode()
    assert '<script src="../site.js" defer>' in opt_in
    assert f'src="../assets/{image.storage_key.replace("/", "-")}"' in thanks
    assert 'src="../assets/static-img-placeholder.svg"' in thanks
    assert 'content="http://pages.example.com/_assets/' in thanks  # og:image stays absolute
    assert 'action="http://pages.example.com/_forms/' in opt_in  # forms post to the live site
    assert '<link rel="canonical" href="http://pages.example.com/free-guide/opt-in">' in opt_in
    token = re.search(r'name="form_token" value="([^"]+)"', opt_in)[1]
    assert token.startswith("x")  # a long-lived export token
    assert "lf-source" not in opt_in and "{{lf-form-token" not in opt_in
    assert "opt-in/index.html" in archive.read("index.html").decode()


def test_export_token_is_accepted_by_the_live_site(client, owner, app):
    from app.site import submissions

    user, account = owner
    funnel, _ = funnel_with_image(account, user)
    page = funnel.steps[0].page
    form_id = page.tree["children"][0]["children"][0]["children"][0]["children"][1]["id"]
    assert submissions.check_token(submissions.mint_token(page.id, form_id, export=True), page.id, form_id) == "ok"
    old = submissions.mint_token(page.id, form_id, now=0, export=True)
    assert submissions.check_token(old, page.id, form_id) == "expired"


def test_export_of_an_unpublished_funnel_is_refused(client, owner):
    user, account = owner
    funnel = make_funnel(account, user)
    log_in(client, user, account)
    response = client.post(f"/funnels/{funnel.id}/export")
    assert response.status_code == 409 and "publish the funnel first" in response.text
    assert db.session.query(Job).count() == 0


def test_export_of_another_account_is_404_and_viewers_cannot_start_it(client, owner):
    from tests.factories import add_member

    user, account = owner
    funnel = make_funnel(account, user)
    publishing.publish_funnel(account, funnel, user)
    stranger = make_user("stranger@example.com")
    log_in(client, stranger, make_account(stranger, "Other"))
    assert client.post(f"/funnels/{funnel.id}/export").status_code == 404
    viewer = add_member(account, "viewer", "viewer@example.com")
    log_in(client, viewer, account)
    assert client.post(f"/funnels/{funnel.id}/export").status_code == 403


def test_export_routes_are_not_on_the_site_host(client, owner):
    user, account = owner
    funnel = make_funnel(account, user)
    log_in(client, user, account)
    assert site_get(client, f"/funnels/{funnel.id}/export/{funnel.id}").status_code == 404
