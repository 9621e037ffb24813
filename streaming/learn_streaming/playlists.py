"""M3U8 playlists (RFC 8216, HTTP Live Streaming), parsed from text: no I/O.

Reading order: **playlists** -> abr -> buffer -> packager -> app -> server -> player -> probe -> demo.

HLS has two kinds of playlist, both UTF-8 text, one tag or URI per line (RFC 8216 §4):

- a **master playlist** (§4.3.4) lists the renditions ("variant streams"):
  each ``#EXT-X-STREAM-INF:BANDWIDTH=...,RESOLUTION=...`` line is followed
  by the URI of that rendition's media playlist;
- a **media playlist** (§4.3.3) lists one rendition's segments in order:
  ``#EXTINF:<duration>,`` then the segment's URI, under a header with
  ``#EXT-X-TARGETDURATION`` (no segment is longer, once rounded) and
  ``#EXT-X-MEDIA-SEQUENCE`` (the number of the first segment listed: a live
  playlist's window slides and this number advances).  ``#EXT-X-ENDLIST``
  says no segment will ever be added (video on demand).

:func:`parse` takes the text and returns a :class:`MasterPlaylist` or a
:class:`MediaPlaylist`; a playlist that breaks a rule we depend on raises
:class:`PlaylistError` naming the line.  Tags we do not know are ignored, as
§6.3.1 tells clients to.  The tags handled are the ones our packager and
ffmpeg write: EXTM3U, EXT-X-VERSION, EXT-X-INDEPENDENT-SEGMENTS,
EXT-X-STREAM-INF, EXT-X-TARGETDURATION, EXT-X-MEDIA-SEQUENCE,
EXT-X-DISCONTINUITY-SEQUENCE, EXT-X-PLAYLIST-TYPE, EXT-X-MAP, EXTINF,
EXT-X-BYTERANGE, EXT-X-DISCONTINUITY, EXT-X-PROGRAM-DATE-TIME (kept as text)
and EXT-X-ENDLIST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

# §4.2: AttributeName=AttributeValue, comma-separated; a value is a quoted string
# (which may hold commas), or a run of characters without commas.
ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)(?:,|$)')
MEDIA_TAGS = {"#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE", "#EXTINF", "#EXT-X-ENDLIST",
              "#EXT-X-PLAYLIST-TYPE", "#EXT-X-BYTERANGE", "#EXT-X-DISCONTINUITY", "#EXT-X-MAP",
              "#EXT-X-DISCONTINUITY-SEQUENCE"}
MASTER_TAGS = {"#EXT-X-STREAM-INF", "#EXT-X-MEDIA", "#EXT-X-I-FRAME-STREAM-INF"}


class PlaylistError(ValueError):
    """A playlist we refuse, with the 1-based line number where it went wrong."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Variant:
    """One rendition in a master playlist (§4.3.4.2 EXT-X-STREAM-INF)."""

    uri: str
    bandwidth: int  # peak bits per second of the rendition
    average_bandwidth: int | None = None
    resolution: tuple[int, int] | None = None
    codecs: str | None = None
    frame_rate: float | None = None


@dataclass(frozen=True)
class MasterPlaylist:
    variants: list[Variant]
    version: int | None = None
    independent_segments: bool = False


@dataclass(frozen=True)
class Segment:
    """One media segment (§3, §4.3.2): its URI, its duration and its media sequence number."""

    uri: str
    duration: float
    sequence: int
    title: str = ""
    byterange: tuple[int, int | None] | None = None  # (length, offset or None: right after the last)
    discontinuity: bool = False
    program_date_time: str | None = None


@dataclass(frozen=True)
class MediaPlaylist:
    target_duration: int
    segments: list[Segment]
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    version: int | None = None
    playlist_type: str | None = None  # EVENT or VOD
    endlist: bool = False
    map_uri: str | None = None  # the fMP4 initialisation section (EXT-X-MAP)
    independent_segments: bool = False

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)


def parse_attributes(text: str, line: int) -> dict[str, str]:
    """An attribute list (§4.2) as a dict; quoted values keep no quotes."""
    attributes: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = ATTRIBUTE.match(text, position)
        if match is None:
            raise PlaylistError(line, f"bad attribute list at {text[position:position + 20]!r}")
        name, value = match.groups()
        if name in attributes:  # §4.2: a name appears at most once in an attribute list
            raise PlaylistError(line, f"attribute {name} given twice")
        attributes[name] = value[1:-1] if value.startswith('"') else value
        position = match.end()
    return attributes


def _integer(value: str, line: int, what: str) -> int:
    if not value.isdigit():  # §4.2 decimal-integer: digits only, no sign
        raise PlaylistError(line, f"{what} must be a decimal integer, got {value!r}")
    return int(value)


def _float(value: str, line: int, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise PlaylistError(line, f"{what} must be a number, got {value!r}") from None
    if number < 0:
        raise PlaylistError(line, f"{what} must not be negative, got {value!r}")
    return number


def _variant(attributes: dict[str, str], uri: str, line: int) -> Variant:
    if "BANDWIDTH" not in attributes:  # §4.3.4.2: every EXT-X-STREAM-INF tag includes BANDWIDTH
        raise PlaylistError(line, "EXT-X-STREAM-INF without BANDWIDTH")
    resolution = None
    if "RESOLUTION" in attributes:
        match = re.fullmatch(r"(\d+)x(\d+)", attributes["RESOLUTION"])
        if match is None:
            raise PlaylistError(line, f"RESOLUTION must be WIDTHxHEIGHT, got {attributes['RESOLUTION']!r}")
        resolution = (int(match.group(1)), int(match.group(2)))
    average = attributes.get("AVERAGE-BANDWIDTH")
    rate = attributes.get("FRAME-RATE")
    return Variant(uri=uri, bandwidth=_integer(attributes["BANDWIDTH"], line, "BANDWIDTH"),
                   average_bandwidth=_integer(average, line, "AVERAGE-BANDWIDTH") if average else None,
                   resolution=resolution, codecs=attributes.get("CODECS"),
                   frame_rate=_float(rate, line, "FRAME-RATE") if rate else None)


def parse(text: str) -> MasterPlaylist | MediaPlaylist:
    """Parse a playlist; raise :class:`PlaylistError` (with the line) if it breaks the rules."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "#EXTM3U":  # §4.3.1.1: it MUST be the first line
        raise PlaylistError(1, "a playlist starts with #EXTM3U")
    kind: str | None = None  # "master" or "media", fixed by the first tag that says which
    header: dict[str, object] = {}
    variants: list[Variant] = []
    segments: list[Segment] = []
    pending: dict[str, object] = {}  # tags that apply to the next URI line
    pending_line = 0
    byterange_end: int | None = None
    segment_lines: list[int] = []  # the EXTINF line of each segment, for errors found at the end

    def claim(which: str, number: int, tag: str) -> None:
        nonlocal kind
        if kind is not None and kind != which:  # a playlist is a master or a media playlist, not both
            raise PlaylistError(number, f"{tag} in a {kind} playlist")
        kind = which

    for number, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):  # a URI: it closes the tags before it
            if "stream_inf" in pending:
                variants.append(_variant(pending.pop("stream_inf"), line, pending_line))  # type: ignore[arg-type]
            elif "duration" in pending:
                sequence = int(header.get("media_sequence", 0)) + len(segments)  # type: ignore[call-overload]
                segments.append(Segment(uri=line, sequence=sequence, **pending))  # type: ignore[arg-type]
                segment_lines.append(pending_line)
            else:
                raise PlaylistError(number, f"URI {line!r} without #EXTINF or #EXT-X-STREAM-INF before it")
            pending = {}
            continue
        if not line.startswith("#EXT"):
            continue  # a comment (§4.1)
        tag, _, value = line.partition(":")
        if tag in MASTER_TAGS:
            claim("master", number, tag)
        elif tag in MEDIA_TAGS:
            claim("media", number, tag)
        if tag == "#EXTM3U":
            raise PlaylistError(number, "#EXTM3U again")
        elif tag == "#EXT-X-VERSION":
            header["version"] = _integer(value, number, "EXT-X-VERSION")
        elif tag == "#EXT-X-INDEPENDENT-SEGMENTS":
            header["independent_segments"] = True
        elif tag == "#EXT-X-STREAM-INF":
            if "stream_inf" in pending:
                raise PlaylistError(number, "EXT-X-STREAM-INF must be followed by a URI line")
            pending, pending_line = {"stream_inf": parse_attributes(value, number)}, number
        elif tag == "#EXT-X-TARGETDURATION":
            header["target_duration"] = _integer(value, number, "EXT-X-TARGETDURATION")
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            if segments:  # §4.3.3.2: it MUST appear before the first Media Segment
                raise PlaylistError(number, "EXT-X-MEDIA-SEQUENCE after the first segment")
            header["media_sequence"] = _integer(value, number, "EXT-X-MEDIA-SEQUENCE")
        elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
            header["discontinuity_sequence"] = _integer(value, number, "EXT-X-DISCONTINUITY-SEQUENCE")
        elif tag == "#EXT-X-PLAYLIST-TYPE":
            if value not in ("EVENT", "VOD"):
                raise PlaylistError(number, f"EXT-X-PLAYLIST-TYPE is EVENT or VOD, got {value!r}")
            header["playlist_type"] = value
        elif tag == "#EXT-X-MAP":
            attributes = parse_attributes(value, number)
            if "URI" not in attributes:
                raise PlaylistError(number, "EXT-X-MAP without URI")
            header["map_uri"] = attributes["URI"]
        elif tag == "#EXTINF":
            if "duration" in pending:
                raise PlaylistError(number, "#EXTINF twice before one URI")
            duration, _, title = value.partition(",")
            pending.update(duration=_float(duration, number, "EXTINF duration"), title=title)
            pending_line = number
        elif tag == "#EXT-X-BYTERANGE":
            length, _, offset = value.partition("@")
            start = _integer(offset, number, "byte range offset") if offset else byterange_end
            if start is None:  # §4.3.2.2: no offset is only allowed right after another range
                raise PlaylistError(number, "EXT-X-BYTERANGE without an offset and no range before it")
            size = _integer(length, number, "byte range length")
            pending["byterange"] = (size, start)
            byterange_end = start + size
        elif tag == "#EXT-X-DISCONTINUITY":
            pending["discontinuity"] = True
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            pending["program_date_time"] = value
        elif tag == "#EXT-X-ENDLIST":
            header["endlist"] = True
    if pending:
        raise PlaylistError(pending_line, "a tag that needs a URI line is the last thing in the playlist")
    if kind == "master" or (variants and kind is None):
        if not variants:
            raise PlaylistError(len(lines), "a master playlist without a variant")
        return MasterPlaylist(variants=variants, version=header.get("version"),  # type: ignore[arg-type]
                              independent_segments=bool(header.get("independent_segments")))
    return _media(header, segments, segment_lines, len(lines))


def _media(header: dict[str, object], segments: list[Segment], segment_lines: list[int],
           last_line: int) -> MediaPlaylist:
    if "target_duration" not in header:  # §4.3.3.1: REQUIRED
        raise PlaylistError(last_line, "a media playlist without #EXT-X-TARGETDURATION")
    target = int(header["target_duration"])  # type: ignore[call-overload]
    for segment, line in zip(segments, segment_lines, strict=True):
        # §4.3.3.1: each EXTINF duration, rounded to the nearest integer, MUST be <= the target.
        if int(segment.duration + 0.5) > target:
            raise PlaylistError(line, f"segment {segment.uri} lasts {segment.duration} s, "
                                           f"over the target duration {target} s")
    return MediaPlaylist(target_duration=target, segments=segments,
                         media_sequence=int(header.get("media_sequence", 0)),  # type: ignore[call-overload]
                         discontinuity_sequence=int(header.get("discontinuity_sequence", 0)),  # type: ignore[call-overload]
                         version=header.get("version"), playlist_type=header.get("playlist_type"),  # type: ignore[arg-type]
                         endlist=bool(header.get("endlist")), map_uri=header.get("map_uri"),  # type: ignore[arg-type]
                         independent_segments=bool(header.get("independent_segments")))


def resolve(base: str, uri: str) -> str:
    """A URI from a playlist, relative to the playlist's own URL (§4.1: relative URIs)."""
    return urljoin(base, uri)
