"""The transformation types: for each, its parameters model, the source types it applies to,
the roles that may ask for it, the output it makes and the job that makes it.

``validate_transformation`` is what ``POST /transform`` calls before recording anything:
an unknown type, an invalid parameter or a source the type cannot apply to is a 400
``VALIDATION_ERROR`` with the field in ``details``; a role that may not ask is a 403
``FORBIDDEN`` with the role needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.errors import ApiError, Forbidden, TransformationFailed, ValidationFailed
from shared.media import documents, images, params, transforms, video
from shared.media.detect import normalise
from shared.settings import Settings

# The specification's roles, least first (shared.auth.Role is a StrEnum of the same values;
# media sits beside auth in the layers and does not import it).
ROLES = ("user", "premium", "admin")
EVERY_ROLE = frozenset(ROLES)
ADVANCED = frozenset({"premium", "admin"})  # the spec's "advanced transformations"
SVG = "image/svg+xml"

IMAGES = frozenset(transforms.IMAGE_SOURCES)
VIDEOS = transforms.VIDEO_SOURCES
TEXTS = transforms.TEXT_SOURCES


@dataclass(frozen=True)
class Output:
    mime_type: str
    extension: str  # with its dot, for output names


@dataclass(frozen=True)
class TransformationType:
    name: str
    params_model: type[params.Params]
    sources: frozenset[str]  # MIME types as detected from content
    roles: frozenset[str]
    output: Callable[[Any, str], Output]  # (params, source MIME type) -> what is written
    job: transforms.Job

    @property
    def required_role(self) -> str:
        """The least role that may ask for it (for the 403's details)."""
        return min(self.roles, key=ROLES.index)


def _image_output(p: Any, source_mime: str) -> Output:
    fmt = transforms.image_target(getattr(p, "format", None), source_mime)
    return Output(images.MIME[fmt], images.EXTENSION[fmt])


def _video_output(p: Any, _source_mime: str) -> Output:
    return Output(video.MIME[p.format], video.EXTENSION[p.format])


def _text_output(_p: Any, _source_mime: str) -> Output:
    return Output("text/plain", ".txt")


def _thumbnail_output(p: Any, _source_mime: str) -> Output:
    return Output(images.MIME[p.format], images.EXTENSION[p.format])


def _types(*types: TransformationType) -> dict[str, TransformationType]:
    return {t.name: t for t in types}


REGISTRY: dict[str, TransformationType] = _types(
    TransformationType("image_resize", params.ImageResize, IMAGES, EVERY_ROLE,
                       _image_output, transforms.image_resize),
    TransformationType("image_format_conversion", params.ImageFormatConversion, IMAGES,
                       EVERY_ROLE, _image_output, transforms.image_format_conversion),
    TransformationType("image_compression", params.ImageCompression, IMAGES, EVERY_ROLE,
                       _image_output, transforms.image_compression),
    TransformationType("video_resize", params.VideoResize, VIDEOS, ADVANCED,
                       _video_output, transforms.video_resize),
    TransformationType("video_format_conversion", params.VideoFormatConversion, VIDEOS,
                       ADVANCED, _video_output, transforms.video_format_conversion),
    TransformationType("video_bitrate_adjustment", params.VideoBitrateAdjustment, VIDEOS,
                       ADVANCED, _video_output, transforms.video_bitrate_adjustment),
    TransformationType("text_extraction", params.TextExtraction, TEXTS, EVERY_ROLE,
                       _text_output, transforms.text_extraction),
    TransformationType("ocr", params.Ocr, IMAGES | {documents.PDF}, ADVANCED,
                       _text_output, transforms.ocr_text),
    TransformationType("thumbnail_generation", params.ThumbnailGeneration,
                       IMAGES | VIDEOS | {documents.PDF}, EVERY_ROLE,
                       _thumbnail_output, transforms.thumbnail_generation),
)

# Defaults taken from settings, by parameter name: the stored parameters say what was done.
_SETTING_DEFAULTS = {"quality": "image_quality", "bitrate": "video_bitrate"}


@dataclass(frozen=True)
class ValidTransformation:
    type: TransformationType
    params: params.Params  # with the service defaults filled in
    output: Output

    @property
    def stored_params(self) -> dict[str, Any]:
        """The parameters as JSON for ``file_transformations.transformation_params``."""
        return self.params.model_dump(mode="json")


def _refuse(field: str, message: str, **details: Any) -> ApiError:
    return ValidationFailed(message, details={"field": field, **details,
                                              "errors": [{"field": field, "message": message}]})


def _with_defaults(p: params.Params, settings: Settings) -> params.Params:
    update = {name: getattr(settings, setting) for name, setting in _SETTING_DEFAULTS.items()
              if name in type(p).model_fields and getattr(p, name) is None}
    if not update:
        return p
    # Re-validated, so that a bad IMAGE_QUALITY or VIDEO_BITRATE is refused, not used.
    return type(p).model_validate({**p.model_dump(), **update})


def validate_transformation(transformation_type: Any, parameters: Any, source_mime: str,
                            role: str, settings: Settings) -> ValidTransformation:
    """Check a request to transform a file of type ``source_mime`` (as detected at upload).

    Order: the type, then the role (403), then the parameters, then the source.
    """
    spec = REGISTRY.get(transformation_type) if isinstance(transformation_type, str) else None
    if spec is None:
        raise _refuse("transformation_type", "unknown transformation type",
                      allowed=sorted(REGISTRY))
    if role not in spec.roles:
        allowed = sorted(spec.roles, key=ROLES.index)
        raise Forbidden(f"{spec.name} is for the roles {', '.join(allowed)}",
                        details={"required_role": spec.required_role, "allowed_roles": allowed,
                                 "role": str(role), "transformation_type": spec.name})
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise _refuse("parameters", "parameters must be a JSON object")
    try:
        p = _with_defaults(spec.params_model.model_validate(parameters), settings)
    except ValidationError as exc:
        errors = [{"field": ".".join(["parameters", *map(str, e["loc"])]), "message": e["msg"]}
                  for e in exc.errors(include_url=False)]
        raise ValidationFailed("Invalid transformation parameters",
                               details={"field": errors[0]["field"], "errors": errors}) from exc
    source = normalise(source_mime)
    if source not in spec.sources:
        why = ("SVG is never rasterised" if source == SVG
               else f"{spec.name} does not apply to {source or 'this file'}")
        raise _refuse("source_file_id", why, source_mime_type=source,
                      accepted_mime_types=sorted(spec.sources))
    if "format" in type(p).model_fields and getattr(p, "format", None) is None:  # say which
        p = p.model_copy(update={"format": transforms.image_target(None, source)})
    return ValidTransformation(spec, p, spec.output(p, source))


def load_transformation(transformation_type: str, stored_params: dict[str, Any],
                        source_mime: str) -> ValidTransformation:
    """A recorded transformation rebuilt for the worker (already validated when asked for;
    checked again, so that a row edited since cannot reach a job unchecked)."""
    spec = REGISTRY.get(transformation_type)
    if spec is None:
        raise TransformationFailed(f"unknown transformation type {transformation_type!r}")
    try:
        p = spec.params_model.model_validate(stored_params)
    except ValidationError as exc:
        raise TransformationFailed(f"invalid stored parameters: {exc.errors()[0]['msg']}",
                                   details={"transformation_type": transformation_type}) from exc
    return ValidTransformation(spec, p, spec.output(p, normalise(source_mime)))
