"""Article files and images: storage, detected types, limits, guarded downloads, Markdown."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mainspring.core.markdown import render_markdown
from mainspring.core.services import AttachmentTooLarge, TicketValidationError
from mainspring.identity.policy import Forbidden, NotVisible
from mainspring.knowledge import services
from mainspring.knowledge.models import ArticleAttachment, Audience

pytestmark = pytest.mark.django_db


def png_bytes(width: int = 2, height: int = 1) -> bytes:
    """A real (tiny) PNG: signature, IHDR, IDAT, IEND with correct CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


def upload(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def draft(agent):
    return services.create_article(by=agent, title="Printer setup", body="Steps")


def attach(article, by, name="shot.png", data=None) -> ArticleAttachment:
    return services.add_article_attachment(
        article, by=by, upload=upload(name, png_bytes() if data is None else data)
    )


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


# -- service ----------------------------------------------------------------------------------
def test_stored_under_generated_name_with_detected_type(draft, agent):
    png = png_bytes()
    attachment = attach(draft, agent, "../../etc/passwd", png)
    assert attachment.filename == "passwd"
    assert attachment.storage_key.hex in attachment.file.name
    assert "passwd" not in attachment.file.name and ".." not in attachment.file.name
    assert attachment.content_type == "image/png" and attachment.is_image
    assert attachment.size == len(png)
    import hashlib

    assert attachment.sha256 == hashlib.sha256(png).hexdigest()
    assert attachment.file.read() == png


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("evil.png", SVG, "application/octet-stream"),
        ("page.png", HTML, "application/octet-stream"),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00rest", "image/jpeg"),
        ("anim.gif", b"GIF89a\x01\x00\x01\x00rest", "image/gif"),
        ("pic.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 rest", "image/webp"),
        ("not.webp", b"RIFF\x10\x00\x00\x00WAVEfmt rest", "application/octet-stream"),
        ("doc.pdf", b"%PDF-1.7\nrest", "application/pdf"),
        ("logo.svg", SVG, "application/octet-stream"),
    ],
)
def test_type_comes_from_the_bytes_never_the_name_or_client(draft, agent, name, data, expected):
    attachment = services.add_article_attachment(
        draft, by=agent, upload=upload(name, data, content_type="image/png")
    )
    assert attachment.content_type == expected
    assert attachment.is_image == expected.startswith("image/")


def test_odd_file_names_are_made_safe(draft, agent):
    rtl = attach(draft, agent, "invoice\u202egnp.exe")
    assert "\u202e" not in rtl.filename and rtl.filename == "invoice_gnp.exe"
    long = attach(draft, agent, "a" * 300 + ".png")
    assert len(long.filename) <= 150 and long.filename.endswith(".png")
    tag = attach(draft, agent, '"><img src=x onerror=1>.png')
    assert "<" not in tag.filename and '"' not in tag.filename
    # Markdown for the file: brackets in the name cannot end the link text early.
    weird = attach(draft, agent, "a]b[c.png")
    assert weird.markdown == f"![a\\]b\\[c.png]({weird.get_absolute_url()})"


def test_size_limit_and_empty_file(draft, agent, settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    with pytest.raises(AttachmentTooLarge):
        attach(draft, agent, "big.bin", b"x" * 101)
    with pytest.raises(TicketValidationError) as exc:
        attach(draft, agent, "empty.txt", b"")
    assert "file" in exc.value.fields
    assert ArticleAttachment.objects.count() == 0


def test_only_people_who_may_edit_add_or_remove(
    draft, agent, other_agent, requester, reviewer, publish_article
):
    with pytest.raises(NotVisible):  # another agent's draft: not even visible
        attach(draft, other_agent)
    with pytest.raises(NotVisible):
        attach(draft, requester)
    published = publish_article(title="Published")
    with pytest.raises(Forbidden):  # authors edit drafts only; reviewers edit the rest
        attach(published, agent)
    with pytest.raises(Forbidden):
        attach(published, requester)
    mine = attach(published, reviewer)
    with pytest.raises(Forbidden):
        services.remove_article_attachment(mine, by=agent)
    services.remove_article_attachment(mine, by=reviewer)
    assert not ArticleAttachment.objects.filter(pk=mine.pk).exists()


def test_removal_deletes_the_stored_file(draft, agent, django_capture_on_commit_callbacks):
    attachment = attach(draft, agent)
    storage, name = attachment.file.storage, attachment.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_article_attachment(attachment, by=agent)
    assert not storage.exists(name)


def test_attachments_survive_new_versions(agent, reviewer, publish_article):
    article = publish_article(title="VPN")
    attachment = attach(article, reviewer)
    services.update_article(article, by=reviewer, body="New text")
    assert article.revision == 2
    assert list(article.attachments.all()) == [attachment]


# -- downloads --------------------------------------------------------------------------------
def test_real_png_is_served_inline_for_markdown_images(
    client, publish_article, reviewer, requester
):
    article = publish_article(title="Screenshot guide")
    png = png_bytes()
    attachment = attach(article, reviewer, "screen.png", png)
    url = f"/knowledge/{article.number}/files/{attachment.storage_key}/"
    assert attachment.get_absolute_url() == url
    client.force_login(requester)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert streamed(response) == png


@pytest.mark.parametrize("data", [SVG, HTML])
def test_disguised_svg_or_html_is_a_download(client, publish_article, reviewer, requester, data):
    article = publish_article(title="Guide")
    attachment = attach(article, reviewer, "innocent.png", data)
    client.force_login(requester)
    response = client.get(attachment.get_absolute_url())
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert streamed(response) == data


def test_non_ascii_names_use_rfc6266(client, draft, agent):
    attachment = attach(draft, agent, "Übersicht.pdf", b"%PDF-1.4 x")
    client.force_login(agent)
    response = client.get(attachment.get_absolute_url())
    assert "filename*=utf-8''%C3%9Cbersicht.pdf" in response["Content-Disposition"]


def test_downloads_follow_who_may_read_the_article(
    client, publish_article, reviewer, requester, agent, other_agent, draft
):
    runbook = publish_article(title="Runbook", audience=Audience.AGENTS)
    secret = attach(runbook, reviewer, "secret.txt", b"root password")
    public = publish_article(title="Public")
    shared = attach(public, reviewer, "guide.txt", b"hello")
    in_draft = attach(draft, agent, "draft.txt", b"draft")

    client.force_login(requester)
    assert client.get(secret.get_absolute_url()).status_code == 404
    assert client.get(in_draft.get_absolute_url()).status_code == 404
    assert client.get(shared.get_absolute_url()).status_code == 200
    # A real key under the wrong article number is the same 404.
    wrong = f"/knowledge/{public.number}/files/{secret.storage_key}/"
    assert client.get(wrong).status_code == 404
    assert client.get(f"/knowledge/{public.number}/files/{'0' * 32}/").status_code == 404

    client.force_login(other_agent)
    assert client.get(secret.get_absolute_url()).status_code == 200
    assert client.get(in_draft.get_absolute_url()).status_code == 404  # someone else's draft

    services.retire(public, by=reviewer)
    client.force_login(requester)
    assert client.get(shared.get_absolute_url()).status_code == 404

    client.logout()
    response = client.get(secret.get_absolute_url())
    assert response.status_code == 302 and "/login/" in response["Location"]


# -- Markdown ---------------------------------------------------------------------------------
def test_sanitiser_keeps_article_images_and_drops_dangerous_urls():
    src = "/knowledge/KB0001001/files/0b7c8f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b/"
    html = render_markdown(f"![diagram]({src}) ![ext](https://example.org/a.png)")
    assert f'<img src="{src}" alt="diagram">' in html
    assert '<img src="https://example.org/a.png" alt="ext">' in html
    for bad in [
        "![x](javascript:alert(1))",
        "![x](JaVaScRiPt:alert(1))",
        "[x](javascript:alert(1))",
        "![x](&#106;avascript:alert(1))",
        "![x](data:image/svg+xml;base64,PHN2Zz4=)",
        "![x](data:image/png;base64,iVBORw0KGgo=)",
        '<img src="x" onerror="alert(1)">',
        "<script>alert(1)</script>",
    ]:
        out = render_markdown(bad).lower()
        assert not re.search(r'(src|href)="\s*(javascript|data|vbscript)', out), (bad, out)
        assert "<script" not in out and '<img src="x"' not in out, (bad, out)


def test_image_shows_in_article_pages(client, publish_article, reviewer, requester):
    article = publish_article(title="Where is the port")
    attachment = attach(article, reviewer, "port.png")
    services.update_article(
        article, by=reviewer, body=f"Look here:\n\n{attachment.markdown}\n\nDone."
    )
    client.force_login(requester)
    page = client.get(f"/portal/knowledge/{article.number}/").content.decode()
    assert f'<img src="{attachment.get_absolute_url()}" alt="port.png">' in page
    # The files list offers the download too.
    assert f'href="{attachment.get_absolute_url()}"' in page
    client.force_login(reviewer)
    page = client.get(f"/knowledge/{article.number}/").content.decode()
    assert f'<img src="{attachment.get_absolute_url()}"' in page


# -- edit page ----------------------------------------------------------------------------------
def test_edit_page_upload_lists_markdown_and_removes(client, draft, agent):
    client.force_login(agent)
    page = client.get(f"/knowledge/{draft.number}/edit/").content.decode()
    assert 'enctype="multipart/form-data"' in page and "No files yet." in page

    response = client.post(
        f"/knowledge/{draft.number}/files/", {"file": upload("net.png", png_bytes())}
    )
    assert response.status_code == 302
    attachment = draft.attachments.get()
    page = client.get(response["Location"]).content.decode()
    assert f"![net.png]({attachment.get_absolute_url()})" in page
    assert "Attached net.png" in page

    other = client.post(
        f"/knowledge/{draft.number}/files/",
        {"file": upload("notes.txt", b"text")},
        HTTP_HX_REQUEST="true",
    )
    assert other.status_code == 200
    body = other.content.decode()
    assert 'id="kb-files"' in body and "<html" not in body  # only the files part
    notes = draft.attachments.get(filename="notes.txt")
    assert f"[notes.txt]({notes.get_absolute_url()})" in body
    assert "![notes.txt]" not in body

    gone = client.post(f"/knowledge/{draft.number}/files/{notes.storage_key}/remove/")
    assert gone.status_code == 302
    assert list(draft.attachments.values_list("filename", flat=True)) == ["net.png"]


def test_upload_errors_are_field_errors_on_the_page(client, draft, agent, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    client.force_login(agent)
    url = f"/knowledge/{draft.number}/files/"

    response = client.post(url, {"file": upload("big.bin", b"x" * (1024 * 1024 + 1))})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="field-error"' in page and "Attachments are limited to 1 MB." in page
    assert 'name="title"' in page and "Printer setup" in page  # the rest of the page stays

    response = client.post(url, {"file": upload("empty.txt", b"")})
    assert response.status_code == 400 and 'class="field-error"' in response.content.decode()
    response = client.post(url, {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert 'id="kb-files"' in response.content.decode()
    assert 'class="field-error"' in response.content.decode()
    assert draft.attachments.count() == 0


def test_huge_upload_is_413_before_it_is_read(client, draft, agent, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    client.force_login(agent)
    response = client.post(
        f"/knowledge/{draft.number}/files/",
        {"file": upload("huge.bin", b"x" * (1024 * 1024 + 100))},
    )
    assert response.status_code == 413
    assert "larger than the" in response.content.decode()
    assert draft.attachments.count() == 0


def test_edit_page_is_for_editors_only(client, publish_article, agent, other_agent, draft):
    published = publish_article(title="Done")
    client.force_login(agent)
    # Visible but not editable by its author once published: 403, not a 500.
    assert client.get(f"/knowledge/{published.number}/edit/").status_code == 403
    assert (
        client.post(
            f"/knowledge/{published.number}/files/", {"file": upload("a.png", png_bytes())}
        ).status_code
        == 403
    )
    client.force_login(other_agent)
    assert client.get(f"/knowledge/{draft.number}/edit/").status_code == 404
    assert (
        client.post(
            f"/knowledge/{draft.number}/files/", {"file": upload("a.png", png_bytes())}
        ).status_code
        == 404
    )
    assert published.attachments.count() == 0 and draft.attachments.count() == 0


# -- API ----------------------------------------------------------------------------------------
def test_api_upload_list_download_delete(api_for, agent, draft):
    api = api_for(agent)
    base = f"/api/v1/articles/{draft.number}/attachments/"
    png = png_bytes()
    response = api.post(base, {"file": upload("chart.png", png)}, format="multipart")
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["filename"] == "chart.png" and item["content_type"] == "image/png"
    assert item["is_image"] is True and item["size"] == len(png)
    assert item["web_url"] == f"http://testserver/knowledge/{draft.number}/files/{item['id']}/"
    assert item["markdown"] == f"![chart.png](/knowledge/{draft.number}/files/{item['id']}/)"
    assert item["download_url"].endswith(f"{base}{item['id']}/download/")

    listing = api.get(base).json()
    assert [i["id"] for i in listing["results"]] == [item["id"]]

    download = api.get(item["download_url"].removeprefix("http://testserver"))
    # Over the API a file is always a download (the schema's octet-stream), images too.
    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert streamed(download) == png

    assert api.delete(f"{base}{item['id']}/").status_code == 204
    assert api.get(base).json()["results"] == []
    assert api.delete(f"{base}{item['id']}/").status_code == 404
    assert api.delete(f"{base}not-a-uuid-at-all-not-a-uuid-at-all/").status_code == 404


def test_api_errors(api_for, agent, requester, reviewer, publish_article, draft, settings):
    base = f"/api/v1/articles/{draft.number}/attachments/"
    api = api_for(agent)
    missing = api.post(base, {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["error"]["fields"]
    empty = api.post(base, {"file": upload("e.txt", b"")}, format="multipart")
    assert empty.status_code == 400 and "file" in empty.json()["error"]["fields"]
    settings.ATTACHMENT_MAX_BYTES = 100
    big = api.post(base, {"file": upload("big.bin", b"x" * 101)}, format="multipart")
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "too_large"
    assert "file" in big.json()["error"]["fields"]

    # Requesters: an agents-only article's files do not exist for them.
    runbook = publish_article(title="Runbook", audience=Audience.AGENTS)
    secret = attach(runbook, reviewer, "s.txt", b"secret")
    rq = api_for(requester)
    rbase = f"/api/v1/articles/{runbook.number}/attachments/"
    assert rq.get(rbase).status_code == 404
    assert rq.get(f"{rbase}{secret.storage_key}/download/").status_code == 404
    assert rq.delete(f"{rbase}{secret.storage_key}/").status_code == 404
    # A readable article: list yes, upload or delete no.
    public = publish_article(title="Public")
    shared = attach(public, reviewer, "p.txt", b"public")
    pbase = f"/api/v1/articles/{public.number}/attachments/"
    assert rq.get(pbase).status_code == 200
    assert rq.post(pbase, {"file": upload("x.txt", b"x")}, format="multipart").status_code == 403
    assert rq.delete(f"{pbase}{shared.storage_key}/").status_code == 403
    assert public.attachments.count() == 1


# -- query counts -------------------------------------------------------------------------------
def test_article_pages_do_not_grow_with_files_and_related(
    client, publish_article, reviewer, requester, django_assert_max_num_queries
):
    article = publish_article(title="Main")
    attach(article, reviewer, "one.png")
    client.force_login(requester)
    client.get(f"/portal/knowledge/{article.number}/")  # warm caches

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    portal = f"/portal/knowledge/{article.number}/"
    agent_page = f"/knowledge/{article.number}/"
    edit_page = f"/knowledge/{article.number}/edit/"
    client.force_login(requester)
    few_portal = count(portal)
    client.force_login(reviewer)
    few_agent = count(agent_page)
    few_edit = count(edit_page)

    related = [publish_article(title=f"Other {i}").number for i in range(6)]
    services.update_article(article, by=reviewer, related=related)
    for i in range(6):
        attach(article, reviewer, f"file{i}.png")

    client.force_login(requester)
    with django_assert_max_num_queries(few_portal):
        page = client.get(portal).content.decode()
    assert page.count("/files/") >= 7 and "Other 5" in page
    client.force_login(reviewer)
    with django_assert_max_num_queries(few_agent):
        page = client.get(agent_page).content.decode()
    assert "Other 5" in page
    with django_assert_max_num_queries(few_edit):
        page = client.get(edit_page).content.decode()
    assert page.count('aria-label="Remove') == 7
    assert "Other 5" not in page and related[5] in page  # numbers in the field


# -- browser ------------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_upload_image_and_show_it_in_the_article(new_page, agent, tmp_path):
    from playwright.sync_api import expect

    from tests.browser_support import axe_violations, login
    from tests.factories import PASSWORD

    draft = services.create_article(by=agent, title="Docking station", body="Plug it in.")
    picture = tmp_path / "dock.png"
    picture.write_bytes(png_bytes(40, 20))
    page = new_page()
    login(page, agent.username, PASSWORD)
    page.goto(f"/knowledge/{draft.number}/edit/")
    body = page.get_by_label("Body")
    body.fill("Unsaved text stays while uploading.")
    page.get_by_label("Add a file or image").set_input_files(str(picture))
    page.locator("#kb-file-form").get_by_role("button", name="Upload").click()
    markdown = page.get_by_label("Markdown for dock.png")
    expect(markdown).to_be_visible()
    expect(body).to_have_value("Unsaved text stays while uploading.")  # htmx kept the page
    assert axe_violations(page) == []

    body.fill("See the picture:\n\n" + markdown.input_value())
    page.get_by_role("button", name="Save", exact=True).click()
    image = page.locator(".markdown img[alt='dock.png']")
    expect(image).to_be_visible()
    # Loaded under the page's CSP and the file's own headers: a real, decoded image.
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) == 40
    expect(page.get_by_role("link", name="dock.png")).to_be_visible()
    assert axe_violations(page) == []
