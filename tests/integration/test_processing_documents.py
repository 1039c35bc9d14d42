"""Documents, video and OCR through the pipeline: text extraction feeding search, thumbnails of
a PDF and of a video, every video type and OCR for premium."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from tests import media_samples as samples
from tests.integration.processing import Pipeline

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MORE_TYPES = "image/jpeg,image/png,image/gif,video/mp4,application/pdf,text/plain," \
             f"{DOCX},application/rtf,text/rtf"


@pytest.fixture
def pipeline(api, auth_headers, upload) -> Pipeline:
    return Pipeline(api, auth_headers, upload)


def _search(pipeline: Pipeline, user: str, word: str) -> list[str]:
    response = pipeline.api.get("/api/v1/storage/files", params={"search": word},
                                headers=pipeline.auth(user))
    assert response.status_code == 200, response.text
    return [f["id"] for f in response.json()["files"]]


def _processed(pipeline: Pipeline, user: str, file_id: str, wait_for, **flags: bool) -> dict:
    def holds() -> bool:
        detail = pipeline.detail(user, file_id)
        processing = detail["metadata"].get("processing", {})
        return all(processing.get(k) == v for k, v in flags.items()) and all(
            t["status"] == "completed" for t in detail["transformations"])

    wait_for(holds, timeout=90, what=f"processing {flags}")
    return pipeline.detail(user, file_id)


def test_a_pdf_is_described_thumbnailed_and_searchable(pipeline, user, tmp_path, wait_for):
    pdf = samples.text_pdf(tmp_path / "rapport.pdf", [
        ["Les hippopotames dorment dans la rivière.", "Deuxième ligne du rapport."],
        ["Page deux: zanzibar."]])
    source = pipeline.upload(user, pdf, "application/pdf", auto_transform=True)
    assert _search(pipeline, user, "hippopotames") == []
    detail = _processed(pipeline, user, source["id"], wait_for, text_extracted=True,
                        thumbnails_generated=True)
    metadata = detail["metadata"]
    assert metadata["document"]["pages"] == 2 and metadata["document"]["title"] == "Mon Document"
    assert metadata["processing"] == {"text_extracted": True, "thumbnails_generated": True,
                                      "searchable": True}
    types = {t["type"]: t for t in detail["transformations"]}
    assert sorted(t["type"] for t in detail["transformations"]) == [
        "text_extraction", "thumbnail_generation", "thumbnail_generation"]  # and a preview
    assert types["text_extraction"]["extracted_text_length"] > 40
    text = pipeline.download(user, types["text_extraction"]["output_file_id"]).decode()
    assert "hippopotames" in text and "zanzibar" in text
    assert detail["urls"]["thumbnail"].endswith("?variant=thumbnail")
    assert detail["urls"]["preview"].endswith("?variant=preview")
    sizes = []
    for variant in ("thumbnail", "preview"):
        response = pipeline.api.get(detail["urls"][variant], headers=pipeline.auth(user))
        assert response.status_code == 200, response.text
        sizes.append(max(Image.open(io.BytesIO(response.content)).size))
    assert sizes[0] == 256 and sizes[1] > 256
    # found by words only inside the document: exact (simple) and stemmed (french)
    assert source["id"] in _search(pipeline, user, "zanzibar")
    assert source["id"] in _search(pipeline, user, "hippopotame")
    assert source["id"] in _search(pipeline, user, "rivière")
    assert _search(pipeline, user, "crocodile") == []
    assert _search(pipeline, "someone-else", "zanzibar") == []


def test_docx_rtf_and_text_give_their_text(pipeline, user, tmp_path, devhost_with, wait_for):
    wide = devhost_with(ALLOWED_MIME_TYPES=MORE_TYPES)
    docx = pipeline.upload(user, samples.docx_file(tmp_path / "note.docx",
                                                   ["Le zèbre galope.", "Fin."]),
                           DOCX, client=wide, auto_transform=True)
    letter = samples.rtf_file(tmp_path / "lettre.rtf", "Chère Hélène, ornithorynque.")
    rtf = pipeline.upload(user, letter, "application/rtf", client=wide)
    txt = tmp_path / "notes.txt"
    txt.write_text("Un capybara à Noël.\n", encoding="utf-8")
    plain = pipeline.upload(user, txt, "text/plain")

    detail = _processed(pipeline, user, docx["id"], wait_for, text_extracted=True)
    assert detail["metadata"]["document"]["author"] == "Marie Curie"
    assert [t["type"] for t in detail["transformations"]] == ["text_extraction"]
    for source, word in ((rtf, "ornithorynque"), (plain, "capybara")):
        done = pipeline.run(user, source["id"], "text_extraction")
        assert done["transformation"]["status"] == "completed", done
        assert done["output_file"]["mime_type"] == "text/plain"
        assert word in pipeline.download(user, done["output_file"]["id"]).decode("utf-8")
        assert source["id"] in _search(pipeline, user, word)
    assert docx["id"] in _search(pipeline, user, "zèbre")


def test_video_poster_and_every_video_type(pipeline, user, tmp_path, wait_for):
    clip = samples.clip(tmp_path / "clip.mp4", seconds=1.0, size="160x120")
    source = pipeline.upload(user, clip, "video/mp4", role="premium", auto_transform=True)
    detail = _processed(pipeline, user, source["id"], wait_for, thumbnails_generated=True)
    media = detail["metadata"]["media"]
    assert media["video"]["codec"] == "h264" and media["audio"]["channels"] == 1
    assert detail["metadata"]["dimensions"] == {"width": 160, "height": 120}

    def run(kind: str, **parameters: object) -> dict:
        done = pipeline.run(user, source["id"], kind, role="premium", parameters=parameters)
        assert done["transformation"]["status"] == "completed", done
        return done

    webm = run("video_format_conversion", format="webm")
    assert webm["output_file"]["mime_type"] == "video/webm"
    with av.open(io.BytesIO(pipeline.download(user, webm["output_file"]["id"]))) as container:
        assert container.streams.video[0].codec_context.name in ("vp8", "vp9", "libvpx")
    mov = run("video_format_conversion", format="mov")
    assert mov["output_file"]["mime_type"] == "video/quicktime"
    gif = run("video_format_conversion", format="gif", width=80)
    assert Image.open(io.BytesIO(pipeline.download(user, gif["output_file"]["id"]))).width == 80
    resized = run("video_resize", width=80, height=60)
    assert resized["result"]["dimensions"] == {"width": 80, "height": 60}
    lower = run("video_bitrate_adjustment", bitrate="100k")
    assert lower["output_file"]["mime_type"] == "video/mp4"
    assert lower["transformation"]["parameters"]["bitrate"] == "100k"
    default = run("video_bitrate_adjustment")
    assert default["transformation"]["parameters"]["bitrate"] == "2000k"  # VIDEO_BITRATE


def test_ocr_reads_a_scan_for_premium(pipeline, user, tmp_path):
    page = samples.printed_page(lines=4)
    scan = tmp_path / "scan.png"
    page.save(scan, format="PNG")
    source = pipeline.upload(user, scan, "image/png", role="premium")
    done = pipeline.run(user, source["id"], "ocr", role="premium",
                        parameters={"languages": ["fr", "en"]})
    assert done["transformation"]["status"] == "completed", done
    text = pipeline.download(user, done["output_file"]["id"]).decode()
    assert len(text.split()) >= 5 and done["result"]["extracted_text_length"] == len(text)
    assert "quick" in text.lower()
    assert source["id"] in _search(pipeline, user, "quick")

    scan = samples.scanned_pdf(tmp_path / "scan.pdf", samples.printed_page(lines=2),
                               samples.printed_page(lines=3))
    pdf = pipeline.upload(user, scan, "application/pdf", role="premium")
    read = pipeline.run(user, pdf["id"], "ocr", role="premium")
    assert read["transformation"]["status"] == "completed", read
    assert read["result"]["pages"] == 2
    assert "forêt" in pipeline.download(user, read["output_file"]["id"]).decode() or \
        "fox" in pipeline.download(user, read["output_file"]["id"]).decode()
