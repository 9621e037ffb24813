"""The m3u8 parser: RFC 8216's own examples, and the playlists it must refuse (with the line)."""

from __future__ import annotations

import pytest

from learn_streaming.playlists import MasterPlaylist, MediaPlaylist, PlaylistError, parse, resolve

pytestmark = pytest.mark.pure

# RFC 8216 §8.1 "Simple Media Playlist"
SIMPLE = """#EXTM3U
#EXT-X-TARGETDURATION:10
#EXT-X-VERSION:3
#EXTINF:9.009,
http://media.example.com/first.ts
#EXTINF:9.009,
http://media.example.com/second.ts
#EXTINF:3.003,
http://media.example.com/third.ts
#EXT-X-ENDLIST
"""

# RFC 8216 §8.2 "Live Media Playlist Using HTTPS"
LIVE = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:8
#EXT-X-MEDIA-SEQUENCE:2680

#EXTINF:7.975,
https://priv.example.com/fileSequence2680.ts
#EXTINF:7.941,
https://priv.example.com/fileSequence2681.ts
#EXTINF:7.975,
https://priv.example.com/fileSequence2682.ts
"""

# RFC 8216 §8.4 "Master Playlist"
MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000
http://example.com/low.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2560000,AVERAGE-BANDWIDTH=2000000
http://example.com/mid.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=7680000,AVERAGE-BANDWIDTH=6000000
http://example.com/hi.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.5"
http://example.com/audio-only.m3u8
"""


def test_simple_media_playlist_lists_three_segments_and_ends():
    playlist = parse(SIMPLE)
    assert isinstance(playlist, MediaPlaylist)
    assert playlist.target_duration == 10 and playlist.version == 3 and playlist.endlist
    assert [s.uri.rsplit("/", 1)[1] for s in playlist.segments] == ["first.ts", "second.ts", "third.ts"]
    assert [s.duration for s in playlist.segments] == [9.009, 9.009, 3.003]
    assert playlist.duration == pytest.approx(21.021)


def test_live_playlist_numbers_segments_from_the_media_sequence():
    playlist = parse(LIVE)
    assert isinstance(playlist, MediaPlaylist)
    assert playlist.media_sequence == 2680 and not playlist.endlist
    assert [s.sequence for s in playlist.segments] == [2680, 2681, 2682]


def test_master_playlist_lists_variants_with_their_attributes():
    playlist = parse(MASTER)
    assert isinstance(playlist, MasterPlaylist)
    assert [v.bandwidth for v in playlist.variants] == [1280000, 2560000, 7680000, 65000]
    assert playlist.variants[0].average_bandwidth == 1000000
    assert playlist.variants[3].codecs == "mp4a.40.5"  # a quoted value keeps its content, not its quotes


def test_quoted_attribute_values_may_hold_commas():
    playlist = parse('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.42c01e,mp4a.40.2",'
                     'RESOLUTION=320x180,FRAME-RATE=25.000\nv0/index.m3u8\n')
    variant = playlist.variants[0]
    assert variant.codecs == "avc1.42c01e,mp4a.40.2" and variant.resolution == (320, 180)
    assert variant.frame_rate == 25.0


def test_byte_ranges_without_offset_continue_after_the_previous_range():
    playlist = parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\nall.ts\n"
                     "#EXTINF:2,\n#EXT-X-BYTERANGE:50\nall.ts\n#EXT-X-ENDLIST\n")
    assert [s.byterange for s in playlist.segments] == [(100, 0), (50, 100)]


def test_unknown_tags_and_comments_are_ignored():
    playlist = parse("#EXTM3U\n# a comment\n#EXT-X-FUTURE-TAG:1\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\na.ts\n")
    assert [s.uri for s in playlist.segments] == ["a.ts"]


def test_relative_uris_resolve_against_the_playlist_url():
    assert resolve("http://h:1/vod/v0/index.m3u8", "seg_001.ts") == "http://h:1/vod/v0/seg_001.ts"
    assert resolve("http://h:1/vod/master.m3u8", "v2/index.m3u8") == "http://h:1/vod/v2/index.m3u8"


@pytest.mark.parametrize(("text", "line", "words"), [
    ("", 1, "starts with #EXTM3U"),
    ("#EXT-X-TARGETDURATION:2\n", 1, "starts with #EXTM3U"),
    ("#EXTM3U\n#EXTINF:1,\n", 2, "needs a URI line"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n", 3, "without #EXTINF"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\na.ts\n", 3, "must be a number"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:-2\n", 2, "decimal integer"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\na.ts\n#EXTINF:9,\nb.ts\n", 5, "over the target"),
    ("#EXTM3U\n#EXTINF:1,\na.ts\n", 4, "without #EXT-X-TARGETDURATION"),
    ("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nv.m3u8\n", 2, "without BANDWIDTH"),
    ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,BANDWIDTH=2\nv.m3u8\n", 2, "given twice"),
    ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXT-X-TARGETDURATION:2\n", 4, "in a master"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\na.ts\n#EXT-X-MEDIA-SEQUENCE:5\n", 5, "after the first"),
    ("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:LIVE\n", 2, "EVENT or VOD"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\n#EXT-X-BYTERANGE:10\na.ts\n", 4, "no range before"),
])
def test_malformed_playlists_are_refused_with_the_line(text, line, words):
    with pytest.raises(PlaylistError) as caught:
        parse(text)
    assert caught.value.line == line, str(caught.value)
    assert words in str(caught.value) and str(caught.value).startswith(f"line {line}: ")
