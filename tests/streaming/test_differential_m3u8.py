"""Our parser against the ``m3u8`` package (PyPI) on the RFC's examples and on ffmpeg's playlists."""

from __future__ import annotations

import m3u8
import pytest

from learn_streaming.playlists import MasterPlaylist, MediaPlaylist, parse

from .test_playlists import LIVE, MASTER, SIMPLE

pytestmark = pytest.mark.differential


def same_as_the_library(text: str) -> None:
    ours, theirs = parse(text), m3u8.loads(text)
    if isinstance(ours, MasterPlaylist):
        assert theirs.is_variant
        assert [v.uri for v in ours.variants] == [p.uri for p in theirs.playlists]
        assert [v.bandwidth for v in ours.variants] == [p.stream_info.bandwidth for p in theirs.playlists]
        assert [v.resolution for v in ours.variants] == [p.stream_info.resolution for p in theirs.playlists]
        codecs = [p.stream_info.codecs for p in theirs.playlists]
        assert [v.codecs for v in ours.variants] == codecs
    else:
        assert isinstance(ours, MediaPlaylist) and not theirs.is_variant
        assert ours.target_duration == theirs.target_duration
        assert ours.media_sequence == (theirs.media_sequence or 0)
        assert ours.endlist == theirs.is_endlist
        assert [s.uri for s in ours.segments] == [s.uri for s in theirs.segments]
        assert [s.duration for s in ours.segments] == [s.duration for s in theirs.segments]


@pytest.mark.parametrize("text", [SIMPLE, LIVE, MASTER], ids=["simple", "live", "master"])
def test_rfc_examples_read_the_same(text):
    same_as_the_library(text)


def test_ffmpegs_playlists_read_the_same(vod):
    same_as_the_library((vod / "master.m3u8").read_text())
    for index in range(3):
        same_as_the_library((vod / f"v{index}" / "index.m3u8").read_text())
