"""The asset library: uploads checked by their bytes (type, lying names, size, pixels), stored behind the
storage interface, served on the site host with locked-down headers, the library page and the builder's
picker, roles and other accounts."""
import io
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.assets import services as assets
from app.assets.models import Asset
from app.core.errors import ConflictError, NotFoundError, ValidationError
from app.core.models import AuditEvent
from app.core.storage import InvalidKey, LocalStorage, check_key, get_storage
from app.extensions import db
from tests import factories

HTMX = {"HX-Request": "true"}
SITE = "http://pages.example.com"


# ---- helpers -----------------------------------------------------------------------------------------

def image_bytes(fmt="PNG", size=(40, 30), color=(200, 40, 40), **save) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    Image.new(mode, size, color).save(buffer, fmt, **save)
    return buffer.getvalue()


def file(data: bytes, name: str) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name)


def post_files(client, files, url="/assets/upload", headers=None, extra=None):
    """POST the upload form with [(bytes, name)]; the multipart body is built in memory."""
    from werkzeug.datastructures import MultiDict

    values = MultiDict([("files", file(data, name)) for data, name in files])
    for key, value in (extra or {}).items():
        values.add(key, value)
    boundary, body = encode_multipart(values)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       headers=headers or {})


def account_files(app, account) -> list[str]:
    folder = Path(app.config["ASSETS_DIR"]) / str(account.id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def asset_count(account=None) -> int:
    query = select(func.count()).select_from(Asset)
    if account is not None:
        query = query.where(Asset.account_id == account.id)
    return db.session.execute(query).scalar_one()


class Endless(io.RawIOBase):
    """A stream of `size` zero bytes that is never in memory whole; counts what was read."""

    def __init__(self, size: int, head: bytes = b""):
        self.size, self.head, self.position = size, head, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.size - self.position)
        chunk = (self.head[self.position:self.position + count] if self.position < len(self.head) else b"")
        chunk = chunk + b"\0" * (count - len(chunk))
        buffer[:count] = chunk
        self.position += count
        return count


@pytest.fixture
def user_client(client, owner):
    user, account = owner
    factories.login(client, user, account)
    return client


# ---- the service: accepted images --------------------------------------------------------------------

ACCEPTED = [("PNG", "logo.png", "image/png", "png"), ("JPEG", "photo.jpeg", "image/jpeg", "jpg"),
            ("GIF", "anim.gif", "image/gif", "gif"), ("WEBP", "hero.webp", "image/webp", "webp")]


def test_images_are_stored_with_their_sniffed_type_and_dimensions(app, owner, published):
    import hashlib

    user, account = owner
    for fmt, name, content_type, ext in ACCEPTED:
        data = image_bytes(fmt, size=(64, 48))
        asset = assets.upload(account, file(data, name), actor=user, alt=" A red  square ")
        assert (asset.content_type, asset.width, asset.height, asset.size) == (content_type, 64, 48, len(data)), fmt
        assert asset.filename == name and asset.alt == "A red square"
        assert asset.storage_key.startswith(f"{account.id}/") and asset.storage_key.endswith(f".{ext}")
        assert asset.checksum == hashlib.sha256(data).hexdigest()
        assert get_storage().open(asset.storage_key) == data
        assert assets.public_url(asset) == f"{SITE}/_assets/{asset.storage_key}"
        assert ("asset.uploaded", {"account_id": str(account.id), "asset_id": str(asset.id), "filename": name,
                                   "content_type": content_type, "size": len(data)}) in published
    audits = db.session.execute(select(AuditEvent).where(AuditEvent.action == "asset.uploaded")).scalars().all()
    assert len(audits) == 4 and all(audit.user_id == user.id for audit in audits)


def test_an_image_whose_name_names_another_image_type_is_kept_with_its_true_extension(app, owner):
    user, account = owner
    asset = assets.upload(account, file(image_bytes("GIF"), "banner.png"), actor=user)
    assert asset.content_type == "image/gif"
    assert asset.filename == "banner.gif" and asset.storage_key.endswith(".gif")
    no_extension = assets.upload(account, file(image_bytes("JPEG"), "IMG_0042"), actor=user)
    assert no_extension.filename == "IMG_0042.jpg"


def test_a_phone_cameras_multi_picture_jpeg_is_a_jpeg(app, owner):
    user, account = owner
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(buffer, "MPO", save_all=True, append_images=[Image.new("RGB", (20, 10))])
    asset = assets.upload(account, file(buffer.getvalue(), "IMG_1234.JPG"), actor=user)
    assert (asset.content_type, asset.filename, asset.width) == ("image/jpeg", "IMG_1234.JPG", 20)


def test_names_are_cleaned_for_display_and_kept_readable(app, owner):
    user, account = owner
    asset = assets.upload(account, file(image_bytes(), "C:\\Users\\me\\Desktop\\Été\x07 photo.png"), actor=user)
    assert asset.filename == "Été photo.png"
    long_name = "a" * 300 + ".png"
    assert assets.upload(account, file(image_bytes(), long_name), actor=user).filename == "a" * 196 + ".png"
    assert assets.upload(account, file(image_bytes(), "../../etc/passwd.png"), actor=user).filename == "passwd.png"


# ---- the service: refused files ----------------------------------------------------------------------

REFUSED = [
    (b"just some notes\nnot a picture\n", "notes.png",
     "notes.png: this is not an image (PNG, JPEG, GIF or WebP), although its name ends in .png."),
    (b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>", "cat.jpg",
     "cat.jpg: this is a web page (HTML), not an image (PNG, JPEG, GIF or WebP), although its name ends in .jpg."),
    (b"<script>fetch('/api')</script>", "x.jpg", "x.jpg: this is a web page (HTML), not an image"),
    (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "photo.pdf",
     "photo.pdf: this is a PDF document, not an image (PNG, JPEG, GIF or WebP)."),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>', "icon.svg",
     "icon.svg: SVG images are not accepted because they can contain scripts."),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "icon.png",
     "icon.png: SVG images are not accepted"),
    (b"", "empty.png", "empty.png: the file is empty."),
    (image_bytes("BMP"), "old.bmp", "old.bmp: this is a BMP image; only PNG, JPEG, GIF and WebP images are accepted."),
    (image_bytes("PNG")[:60], "cut.png", "cut.png: the image is damaged or incomplete."),
]


def test_files_that_are_not_accepted_images_are_refused_and_nothing_is_stored(app, owner):
    user, account = owner
    for data, name, message in REFUSED:
        with pytest.raises(ValidationError) as refused:
            assets.upload(account, file(data, name), actor=user)
        assert refused.value.message.startswith(message), refused.value.message
        assert refused.value.fields == {"file": refused.value.message}
    assert asset_count() == 0 and account_files(app, account) == []


def test_absurd_dimensions_and_decompression_bombs_are_refused(app, owner, monkeypatch):
    user, account = owner
    wide = image_bytes("PNG", size=(10_001, 1))
    with pytest.raises(ValidationError, match="10,001 × 1 pixels; the largest accepted is 10,000 pixels a side"):
        assets.upload(account, file(wide, "wide.png"), actor=user)
    # Above Pillow's MAX_IMAGE_PIXELS (its warning is turned into a refusal, never a crash).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValidationError, match="too many pixels"):
        assets.upload(account, file(image_bytes("PNG", size=(40, 30)), "bomb.png"), actor=user)
    with pytest.raises(ValidationError, match="too many pixels"):
        assets.upload(account, file(image_bytes("PNG", size=(100, 100)), "bigger-bomb.png"), actor=user)
    assert asset_count() == 0


def test_a_50_mb_upload_is_refused_after_reading_only_the_limit(app, owner):
    user, account = owner
    stream = Endless(50 * 1024 * 1024, head=image_bytes("PNG"))
    with pytest.raises(ValidationError) as refused:
        assets.upload(account, FileStorage(io.BufferedReader(stream, 1024 * 1024), filename="huge.png"), actor=user)
    assert refused.value.message.startswith("huge.png: the file is larger than 10 MB, the limit for an image.")
    assert stream.position <= 10 * 1024 * 1024 + 2 * 1024 * 1024  # the limit + 1 byte, plus one buffer
    assert asset_count() == 0 and account_files(app, account) == []


def test_alt_text_is_limited_and_cleaned(app, owner):
    user, account = owner
    asset = assets.upload(account, file(image_bytes(), "a.png"), actor=user)
    assets.update_alt(account, asset, "  Our\tteam\n at work ", actor=user)
    assert asset.alt == "Our team at work"
    with pytest.raises(ValidationError, match="at most 300 characters"):
        assets.update_alt(account, asset, "x" * 301, actor=user)


def test_delete_removes_the_file_and_row_but_not_while_a_page_uses_it(app, owner, published):
    from app.funnels import services as funnels
    from app.pages import tree as trees

    user, account = owner
    asset = assets.upload(account, file(image_bytes(), "team.png"), actor=user)
    funnel = funnels.create_funnel(account, {"name": "Webinar", "slug": "webinar"}, user)
    page = funnel.steps[0].page
    image = trees.new_element("image", props={"asset_id": str(asset.id), "alt": "Our team"})
    page.tree, _ = trees.insert_near(trees.empty_page(), image, None)
    db.session.commit()

    with pytest.raises(ConflictError, match=r"“team.png” is used on 1 page: .*Remove it from those pages"):
        assets.delete(account, asset, actor=user)
    assert get_storage().exists(asset.storage_key)

    page.tree = trees.empty_page()
    page.og_image_id = asset.id  # the social image counts too
    db.session.commit()
    with pytest.raises(ConflictError, match="is used on 1 page"):
        assets.delete(account, asset, actor=user)
    page.og_image_id = None
    db.session.commit()
    key = asset.storage_key
    assets.delete(account, asset, actor=user)
    assert asset_count() == 0 and not get_storage().exists(key)
    assert ("asset.deleted", {"account_id": str(account.id), "asset_id": str(asset.id), "filename": "team.png"}) \
        in published


def test_every_domain_that_uses_images_is_asked_before_a_delete(app, owner, monkeypatch):
    """The library knows no domain: each registers a check of where it uses an image (funnel pages do)."""
    user, account = owner
    asset = assets.upload(account, file(image_bytes(), "box.png"), actor=user)
    spare = assets.upload(account, file(image_bytes(), "spare.png"), actor=user)

    def on_products(account, image):
        return f"“{image.filename}” is the picture of 1 product." if image.id == asset.id else None

    monkeypatch.setattr(assets, "_usage_checks", list(assets._usage_checks))
    assert assets.usage_check(on_products) is on_products
    assert assets.where_used(account, asset) == ["“box.png” is the picture of 1 product."]
    with pytest.raises(ConflictError, match="is the picture of 1 product"):
        assets.delete(account, asset, actor=user)
    assert asset_count(account) == 2
    assets.delete(account, spare, actor=user)  # what no check names goes
    assert asset_count(account) == 1


# ---- storage -----------------------------------------------------------------------------------------

BAD_KEYS = ["../secret", "a/../../b", "/etc/passwd", "a//b", "./a", "a/..", "..", "", "a\\..\\b", "C:/x",
            ".hidden", "a/b\x00c", "a b", "x" * 201]


def test_storage_refuses_keys_outside_its_root(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    for key in BAD_KEYS:
        with pytest.raises(InvalidKey):
            check_key(key)
        for operation in (storage.open, storage.exists, storage.delete, lambda k: storage.save(k, b"x")):
            with pytest.raises(InvalidKey):
                operation(key)
    assert not (tmp_path / "secret").exists() and not (tmp_path / "root").exists()


def test_storage_saves_atomically_and_refuses_symlinks_out_of_the_root(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    storage.save("acc/one.png", b"first")
    storage.save("acc/one.png", b"second")
    assert storage.open("acc/one.png") == b"second" and storage.exists("acc/one.png")
    assert sorted(os.listdir(tmp_path / "root" / "acc")) == ["one.png"]  # no temporary file left behind
    storage.delete("acc/one.png")
    storage.delete("acc/one.png")  # already gone: no error
    assert not storage.exists("acc/one.png")
    with pytest.raises(FileNotFoundError):
        storage.open("acc/one.png")
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(InvalidKey):
        storage.save("link/evil.png", b"x")
    assert os.listdir(tmp_path / "outside") == []


# ---- public serving on the site host -----------------------------------------------------------------

def test_public_files_are_served_by_key_with_locked_down_headers(app, client, owner):
    user, account = owner
    data = image_bytes("WEBP")
    asset = assets.upload(account, file(data, "hero.webp"), actor=user)
    assert assets.by_key(asset.storage_key) == asset and assets.read(asset) == data
    response = client.get(f"/_assets/{asset.storage_key}", base_url=SITE)
    assert response.status_code == 200 and response.get_data() == data
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["ETag"] == f'"{asset.checksum}"'
    again = client.get(f"/_assets/{asset.storage_key}", base_url=SITE, headers={"If-None-Match": f'"{asset.checksum}"'})
    assert again.status_code == 304


def test_unknown_or_traversing_keys_are_404(app, client):
    for key in ("unknown/abc.png", "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "a/../b.png"):
        with pytest.raises(NotFoundError):
            assets.by_key(key)
        assert client.get(f"/_assets/{key}", base_url=SITE).status_code == 404, key


def test_a_row_whose_file_is_missing_is_404_not_500(app, client, user_client, owner):
    user, account = owner
    asset = assets.upload(account, file(image_bytes(), "gone.png"), actor=user)
    get_storage().delete(asset.storage_key)
    with pytest.raises(NotFoundError):
        assets.read(asset)
    assert client.get(f"/_assets/{asset.storage_key}", base_url=SITE).status_code == 404
    assert user_client.get(assets.app_url(asset)).status_code == 404


# ---- the library page --------------------------------------------------------------------------------

def test_the_library_page_lists_images_with_their_facts_and_paginates(app, user_client, owner):
    user, account = owner
    response = user_client.get("/assets")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "No images yet" in body and 'name="files"' in body
    for index in range(22):
        assets.upload(account, file(image_bytes(size=(30 + index, 20)), f"pic-{index:02}.png"), actor=user)
    body = user_client.get("/assets").get_data(as_text=True)
    assert "pic-21.png" in body and "51 × 20" in body and 'loading="lazy"' in body and 'width="51"' in body
    assert "pic-01.png" not in body and "Page 1 of 2" in body
    assert "pic-01.png" in user_client.get("/assets?page=2").get_data(as_text=True)
    assert "No images on this page" in user_client.get("/assets?page=9").get_data(as_text=True)
    newest = db.session.execute(select(Asset).where(Asset.filename == "pic-21.png")).scalar_one()
    assert assets.public_url(newest) in body  # the address "Copy URL" copies


def test_uploading_through_the_page_stores_each_file_and_reports_each_error(app, user_client, owner):
    user, account = owner
    response = post_files(user_client, [(image_bytes("PNG"), "ok.png"), (b"%PDF-1.4 x", "photo.pdf"),
                                        (image_bytes("GIF"), "moving.png")], headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 of 3 files were not uploaded" in body
    assert "photo.pdf: this is a PDF document, not an image (PNG, JPEG, GIF or WebP)." in body
    assert "ok.png uploaded (40 × 30" in body
    assert "moving.png is really a GIF image: saved as moving.gif" in body
    assert 'id="asset-library"' in body and "<html" not in body  # the fragment htmx swaps
    assert sorted(a.filename for a in db.session.execute(select(Asset)).scalars()) == ["moving.gif", "ok.png"]


def test_a_plain_form_post_redirects_when_all_is_well_and_shows_errors_otherwise(app, user_client, owner):
    response = post_files(user_client, [(image_bytes("JPEG"), "a.jpg")])
    assert response.status_code == 303 and response.headers["Location"].endswith("/assets")
    assert "a.jpg uploaded" in user_client.get("/assets").get_data(as_text=True)
    response = post_files(user_client, [(b"hello", "b.jpg")])
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "b.jpg: this is not an image (PNG, JPEG, GIF or WebP), although its name ends in .jpg." in body
    assert "<html" in body
    response = post_files(user_client, [])
    assert response.status_code == 422 and "Choose one or more images to upload." in response.get_data(as_text=True)
    response = post_files(user_client, [(b"x", f"{n}.png") for n in range(21)])
    assert response.status_code == 422
    assert "That is 21 files: upload at most 20 at a time." in response.get_data(as_text=True)


def test_an_upload_over_the_request_limit_gets_a_clear_message_without_being_read(app, user_client, owner):
    user, account = owner
    boundary, body = encode_multipart({"files": file(image_bytes(), "huge.png")})
    too_big = str(50 * 1024 * 1024)
    for headers, status in ((HTMX, 422), ({}, 413)):
        response = user_client.post("/assets/upload", data=body, headers=headers,
                                    content_type=f"multipart/form-data; boundary={boundary}",
                                    environ_overrides={"CONTENT_LENGTH": too_big})
        text = response.get_data(as_text=True)
        assert response.status_code == status
        assert "The upload is larger than 16 MB in all, so nothing was uploaded." in text
        assert "Each image may be up to 10 MB" in text
    response = user_client.post("/assets/upload", data=body, headers={"Accept": "application/json"},
                                content_type=f"multipart/form-data; boundary={boundary}",
                                environ_overrides={"CONTENT_LENGTH": too_big})
    assert response.status_code == 413
    assert response.get_json()["error"]["message"].startswith("The upload is larger than 16 MB in all")
    assert asset_count() == 0 and account_files(app, account) == []


def test_a_file_over_the_image_limit_is_refused_per_file(app, user_client, owner):
    user, account = owner
    app.config["ASSET_MAX_BYTES"] = 1000
    try:
        response = post_files(user_client, [(image_bytes(size=(300, 300), color=None) + b"\0" * 2000, "big.png"),
                                            (image_bytes(size=(2, 2)), "small.png")], headers=HTMX)
    finally:
        app.config["ASSET_MAX_BYTES"] = 10 * 1024 * 1024
    body = response.get_data(as_text=True)
    assert "big.png: the file is larger than 1000 bytes, the limit for an image." in body
    assert [a.filename for a in db.session.execute(select(Asset)).scalars()] == ["small.png"]
    assert len(account_files(app, account)) == 1


def test_uploads_check_the_csrf_token(app, client, owner, csrf_enabled):
    user, account = owner
    factories.login(client, user, account)
    response = post_files(client, [(image_bytes(), "a.png")])
    assert response.status_code == 400 and "Reload the page and upload again." in response.get_data(as_text=True)
    assert asset_count() == 0


def test_alt_text_is_edited_inline(app, user_client, owner):
    user, account = owner
    asset = assets.upload(account, file(image_bytes(), "a.png"), actor=user)
    response = user_client.post(f"/assets/{asset.id}/alt", data={"alt": "Our logo"}, headers=HTMX)
    assert response.status_code == 200 and "Saved" in response.get_data(as_text=True)
    assert db.session.get(Asset, asset.id).alt == "Our logo"
    response = user_client.post(f"/assets/{asset.id}/alt", data={"alt": "y" * 400}, headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "at most 300 characters" in body and "y" * 400 in body
    response = user_client.post(f"/assets/{asset.id}/alt", data={"alt": "Logo"})
    assert response.status_code == 303 and db.session.get(Asset, asset.id).alt == "Logo"


def test_deleting_from_the_page(app, user_client, owner):
    from app.funnels import services as funnels

    user, account = owner
    asset = assets.upload(account, file(image_bytes(), "old.png"), actor=user)
    funnel = funnels.create_funnel(account, {"name": "Launch", "slug": "launch"}, user)
    page = funnel.steps[0].page
    page.favicon_id = asset.id
    db.session.commit()
    response = user_client.post(f"/assets/{asset.id}/delete?page=2")
    assert response.status_code == 303 and response.headers["Location"].endswith("/assets?page=2")
    body = user_client.get("/assets").get_data(as_text=True)
    assert "“old.png” is used on 1 page" in body and "(Launch)" in body and asset_count() == 1
    page.favicon_id = None
    db.session.commit()
    response = user_client.post(f"/assets/{asset.id}/delete")
    assert response.status_code == 303
    assert asset_count() == 0 and account_files(app, account) == []
    assert "old.png deleted." in user_client.get("/assets").get_data(as_text=True)


def test_the_app_file_route_serves_the_workspaces_own_files(app, user_client, owner):
    user, account = owner
    data = image_bytes("JPEG")
    asset = assets.upload(account, file(data, "a.jpg"), actor=user)
    response = user_client.get(assets.app_url(asset))
    assert response.status_code == 200 and response.get_data() == data
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"].startswith("private")


# ---- the picker --------------------------------------------------------------------------------------

def test_the_picker_offers_each_image_with_what_the_panel_needs(app, user_client, owner):
    user, account = owner
    asset = assets.upload(account, file(image_bytes(size=(8000, 2)), "wide.png"), actor=user, alt="A banner")
    response = user_client.get("/assets/picker?field=p.", headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert f'data-asset-id="{asset.id}"' in body and 'data-field="p."' in body
    assert f'data-src="{assets.public_url(asset)}"' in body and 'data-alt="A banner"' in body
    assert 'data-width="4000" data-height="1"' in body  # scaled to what an image element accepts
    assert 'name="files"' in body and 'name="field" value="p."' in body
    # The panel may name its src input instead of the prefix.
    assert 'data-field="p."' in user_client.get("/assets/picker?field=p.src", headers=HTMX).get_data(as_text=True)
    bad = user_client.get('/assets/picker?field="><script>', headers=HTMX).get_data(as_text=True)
    assert "<script>" not in bad.split("</h2>")[0] and 'data-field=""' in bad


def test_the_picker_paginates_and_uploads_into_itself(app, user_client, owner):
    user, account = owner
    for index in range(13):
        assets.upload(account, file(image_bytes(), f"p{index:02}.png"), actor=user)
    body = user_client.get("/assets/picker?field=p.", headers=HTMX).get_data(as_text=True)
    assert "p12.png" in body and "p00.png" not in body and "/assets/picker?field=p.&amp;page=2" in body
    response = post_files(user_client, [(image_bytes(), "fresh.png")], url="/assets/upload?picker=1",
                          headers=HTMX, extra={"field": "p."})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="asset-picker"' in body and "fresh.png uploaded" in body
    assert body.index("fresh.png") < body.index("p12.png")  # newest first, on the first page
    response = post_files(user_client, [(b"nope", "nope.png")], url="/assets/upload?picker=1", headers=HTMX,
                          extra={"field": "p."})
    assert response.status_code == 422 and "nope.png: this is not an image" in response.get_data(as_text=True)


# ---- roles and other accounts ------------------------------------------------------------------------

def test_viewers_see_the_library_but_cannot_change_it(app, client, owner):
    user, account = owner
    asset = assets.upload(account, file(image_bytes(), "a.png"), actor=user, alt="Logo")
    viewer = factories.add_member(account, "viewer")
    factories.login(client, viewer, account)
    body = client.get("/assets").get_data(as_text=True)
    assert "a.png" in body and "Alt: Logo" in body and 'name="files"' not in body and "Delete" not in body
    assert client.get(assets.app_url(asset)).status_code == 200
    assert client.get("/assets/picker?field=p.").status_code == 200
    assert post_files(client, [(image_bytes(), "b.png")]).status_code == 403
    assert client.post(f"/assets/{asset.id}/alt", data={"alt": "x"}).status_code == 403
    assert client.post(f"/assets/{asset.id}/delete").status_code == 403
    assert asset_count() == 1 and db.session.get(Asset, asset.id).alt == "Logo"


def test_another_accounts_asset_is_not_found(app, client, owner):
    user, account = owner
    theirs = assets.upload(account, file(image_bytes(), "theirs.png"), actor=user)
    stranger = factories.make_user("stranger@example.com")
    factories.make_account(stranger, "Elsewhere")
    factories.login(client, stranger)
    assert client.get(f"/assets/{theirs.id}/file").status_code == 404
    assert client.post(f"/assets/{theirs.id}/alt", data={"alt": "mine"}).status_code == 404
    assert client.post(f"/assets/{theirs.id}/delete").status_code == 404
    assert "theirs.png" not in client.get("/assets").get_data(as_text=True)
    assert "theirs.png" not in client.get("/assets/picker?field=p.").get_data(as_text=True)
    assert asset_count() == 1 and db.session.get(Asset, theirs.id).alt == ""


def test_the_site_host_serves_assets_and_refuses_traversal(app, client, owner):
    user, account = owner
    data = image_bytes("GIF")
    asset = assets.upload(account, file(data, "dance.gif"), actor=user)
    response = client.get(f"/_assets/{asset.storage_key}", base_url=SITE)
    assert response.status_code == 200 and response.get_data() == data
    assert response.headers["Content-Type"] == "image/gif"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    for path in (f"/_assets/{account.id}/unknown.png", "/_assets/../../etc/passwd", "/_assets/%2e%2e/%2e%2e/etc/passwd",
                 f"/_assets/{asset.storage_key}/..", "/_assets/..%2F..%2Fetc%2Fpasswd"):
        assert client.get(path, base_url=SITE).status_code == 404, path


def test_a_json_client_gets_the_stored_assets_and_the_refusals(app, user_client, owner):
    response = post_files(user_client, [(image_bytes("PNG"), "a.png"), (b"nope", "b.gif")],
                          headers={"Accept": "application/json"})
    assert response.status_code == 201
    body = response.get_json()
    assert [a["filename"] for a in body["uploaded"]] == ["a.png"]
    assert body["uploaded"][0]["url"].startswith(f"{SITE}/_assets/") and body["uploaded"][0]["width"] == 40
    assert body["errors"] == [{"filename": "b.gif", "message": "b.gif: this is not an image (PNG, JPEG, GIF or WebP), "
                                                               "although its name ends in .gif."}]


def test_a_body_over_the_limit_without_a_length_is_cut_off_with_the_same_message(app, user_client, owner):
    """A chunked upload says no length up front: Werkzeug stops reading at MAX_CONTENT_LENGTH."""
    user, account = owner
    boundary, body = encode_multipart({"files": file(image_bytes() + b"\0" * (17 * 1024 * 1024), "huge.png")})
    response = user_client.post("/assets/upload", input_stream=io.BytesIO(body), headers=HTMX,
                                content_type=f"multipart/form-data; boundary={boundary}",
                                environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})
    assert response.status_code == 422
    assert "The upload is larger than 16 MB in all, so nothing was uploaded." in response.get_data(as_text=True)
    assert asset_count() == 0 and account_files(app, account) == []
