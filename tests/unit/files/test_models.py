"""Validation of what clients send: upload metadata, file updates and list queries."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from shared.files.models import FileUpdate, ListQuery, MetadataUpdate, SortField, UploadMetadata

CUSTOM_FIELDS_LIMIT = 16 * 1024


def error_locs(exc: ValidationError) -> set[tuple[Any, ...]]:
    return {tuple(error["loc"]) for error in exc.errors()}


def refused(model: type, data: dict[str, Any]) -> set[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return error_locs(info.value)


def custom_fields_of_json_size(size: int) -> dict[str, str]:
    value = {"note": ""}
    value["note"] = "x" * (size - len(json.dumps(value)))
    assert len(json.dumps(value)) == size
    return value


# --- UploadMetadata -----------------------------------------------------------------------

def test_upload_metadata_defaults() -> None:
    metadata = UploadMetadata()
    assert metadata.model_dump() == {
        "project_id": None, "description": None, "tags": [], "is_public": False,
        "auto_transform": False, "custom_fields": {}, "expires_at": None,
    }


def test_tags_are_trimmed_and_deduplicated_in_order() -> None:
    metadata = UploadMetadata(tags=[" invoice", "2024 ", "invoice", "Invoice", "2024"])
    assert metadata.tags == ["invoice", "2024", "Invoice"]


def test_default_tags_are_not_shared_between_instances() -> None:
    first = UploadMetadata()
    first.tags.append("mutated")
    assert UploadMetadata().tags == []


@pytest.mark.parametrize("tags", [[""], ["   "], ["ok", ""], ["x" * 65]])
def test_empty_or_long_tags_are_refused(tags: list[str]) -> None:
    assert ("tags",) in refused(UploadMetadata, {"tags": tags})


def test_tag_of_64_characters_is_accepted() -> None:
    assert UploadMetadata(tags=["x" * 64]).tags == ["x" * 64]


def test_at_most_50_tags() -> None:
    assert len(UploadMetadata(tags=[f"t{i}" for i in range(50)]).tags) == 50
    assert ("tags",) in refused(UploadMetadata, {"tags": [f"t{i}" for i in range(51)]})


@pytest.mark.parametrize("tags", [[1], [None], [["nested"]], "a,b"])
def test_tags_must_be_a_list_of_strings(tags: Any) -> None:
    locs = refused(UploadMetadata, {"tags": tags})
    assert any(loc[0] == "tags" for loc in locs)


def test_custom_fields_size_limit() -> None:
    fits = custom_fields_of_json_size(CUSTOM_FIELDS_LIMIT)
    assert UploadMetadata(custom_fields=fits).custom_fields == fits
    too_big = custom_fields_of_json_size(CUSTOM_FIELDS_LIMIT + 1)
    assert ("custom_fields",) in refused(UploadMetadata, {"custom_fields": too_big})


def test_custom_fields_keep_nested_json() -> None:
    value = {"client": {"name": "ACME", "ids": [1, 2, 3]}, "ok": True, "ratio": 0.5,
             "none": None}
    assert UploadMetadata(custom_fields=value).custom_fields == value


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_custom_fields_must_be_json_that_postgres_can_store(number: str) -> None:
    """NaN and infinities are not JSON (RFC 8259): json.dumps writes them as NaN/Infinity,
    which PostgreSQL's jsonb refuses, so the insert fails (a 500) instead of a 422 here."""
    with pytest.raises(ValidationError):
        UploadMetadata.model_validate_json(f'{{"custom_fields": {{"score": {number}}}}}')


@pytest.mark.parametrize(
    "extra", [{"owner": "mallory"}, {"user_id": "x"}, {"checksum_md5": "0" * 32}, {"Tags": []}]
)
def test_upload_metadata_forbids_extra_fields(extra: dict[str, Any]) -> None:
    assert (next(iter(extra)),) in refused(UploadMetadata, extra)


def test_upload_metadata_strings_are_stripped_and_bounded() -> None:
    assert UploadMetadata(project_id="  p-1 ", description="  hi ").project_id == "p-1"
    assert ("project_id",) in refused(UploadMetadata, {"project_id": "   "})
    assert ("project_id",) in refused(UploadMetadata, {"project_id": "p" * 256})
    assert UploadMetadata(description="d" * 4000).description == "d" * 4000
    assert ("description",) in refused(UploadMetadata, {"description": "d" * 4001})


def test_expires_at_is_a_datetime() -> None:
    metadata = UploadMetadata.model_validate_json('{"expires_at": "2030-06-01T12:00:00+02:00"}')
    assert metadata.expires_at is not None
    assert metadata.expires_at.utcoffset() is not None
    assert ("expires_at",) in refused(UploadMetadata, {"expires_at": "soon"})


# --- FileUpdate ---------------------------------------------------------------------------

def test_file_update_keeps_only_what_was_sent() -> None:
    assert FileUpdate.model_validate({}).model_dump(exclude_unset=True) == {}
    update = FileUpdate.model_validate({"is_public": False, "expires_at": None})
    assert update.model_dump(exclude_unset=True) == {"is_public": False, "expires_at": None}


def test_file_update_metadata_is_validated_like_upload_metadata() -> None:
    update = FileUpdate.model_validate({"metadata": {"tags": [" a ", "a", "b"]}})
    assert update.metadata is not None
    assert update.metadata.tags == ["a", "b"]
    assert update.metadata.model_dump(exclude_unset=True) == {"tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"metadata": {"tags": ["x" * 65]}}, ("metadata", "tags")),
        ({"metadata": {"tags": [""]}}, ("metadata", "tags")),
        ({"metadata": {"custom_fields": custom_fields_of_json_size(CUSTOM_FIELDS_LIMIT + 1)}},
         ("metadata", "custom_fields")),
        ({"metadata": {"owner": "x"}}, ("metadata", "owner")),
        ({"owner": "x"}, ("owner",)),
        ({"user_id": "someone-else"}, ("user_id",)),
        ({"original_name": ""}, ("original_name",)),
        ({"original_name": "   "}, ("original_name",)),
        ({"original_name": "n" * 256}, ("original_name",)),
        ({"is_public": "sometimes"}, ("is_public",)),
    ],
)
def test_file_update_refusals(data: dict[str, Any], loc: tuple[str, ...]) -> None:
    assert loc in refused(FileUpdate, data)


def test_metadata_update_accepts_explicit_nulls() -> None:
    update = MetadataUpdate.model_validate({"tags": None, "custom_fields": None})
    assert update.tags is None and update.custom_fields is None
    assert update.model_dump(exclude_unset=True) == {"tags": None, "custom_fields": None}


def test_original_name_is_stripped() -> None:
    assert FileUpdate(original_name="  report.pdf ").original_name == "report.pdf"


# --- ListQuery (values arrive as query-string text) ---------------------------------------

def query(**params: str) -> ListQuery:
    return ListQuery.model_validate(params)


def test_list_query_defaults() -> None:
    q = query()
    assert (q.page, q.limit, q.sort, q.order, q.trashed) == (1, 20, "created_at", "desc", False)


def test_list_query_parses_text() -> None:
    q = query(page="3", limit="100", sort="size_bytes", order="asc", search=" report ",
              project_id="p-1", file_type="image")
    assert (q.page, q.limit, q.sort, q.order) == (3, 100, "size_bytes", "asc")
    assert q.search == "report"
    assert q.project_id == "p-1" and q.file_type == "image"


@pytest.mark.parametrize("sort", get_args(SortField))
def test_every_whitelisted_sort_field_is_accepted(sort: str) -> None:
    assert query(sort=sort).sort == sort


def test_sort_whitelist_is_the_documented_one() -> None:
    assert set(get_args(SortField)) == {
        "created_at", "updated_at", "original_name", "size_bytes", "file_type", "mime_type",
    }


@pytest.mark.parametrize(
    "sort",
    ["id", "user_id", "checksum_sha256", "created_at desc", "size_bytes;DROP TABLE files",
     "CREATED_AT", "", "1"],
)
def test_other_sort_fields_are_refused(sort: str) -> None:
    assert ("sort",) in refused(ListQuery, {"sort": sort})


@pytest.mark.parametrize("order", ["ASC", "up", "", "random()"])
def test_order_is_asc_or_desc(order: str) -> None:
    assert ("order",) in refused(ListQuery, {"order": order})


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"page": "0"}, "page"), ({"page": "-1"}, "page"), ({"page": "100001"}, "page"),
        ({"page": "1.5"}, "page"), ({"page": "two"}, "page"),
        ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
        ({"search": "s" * 201}, "search"),
    ],
)
def test_page_and_limit_bounds(params: dict[str, str], loc: str) -> None:
    assert (loc,) in refused(ListQuery, params)


def test_page_and_limit_extremes_are_accepted() -> None:
    assert (query(page="100000").page, query(limit="1").limit) == (100000, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("false", False), ("True", True), ("1", True), ("0", False)],
)
def test_trashed_from_text(text: str, expected: bool) -> None:
    assert query(trashed=text).trashed is expected


@pytest.mark.parametrize("text", ["maybe", "", "2"])
def test_trashed_refuses_other_text(text: str) -> None:
    assert ("trashed",) in refused(ListQuery, {"trashed": text})


def test_list_query_forbids_unknown_parameters() -> None:
    assert ("owner",) in refused(ListQuery, {"owner": "x"})
