"""The player: playlists in, segments fetched in order, a rendition picked for each, a report out.

Reading order: playlists -> abr -> buffer -> packager -> app -> server -> **player** -> probe -> demo.

What a real HLS player (hls.js, AVPlayer, ExoPlayer) does between the network
and the decoder, without the decoder:

1. fetch the master playlist, sort its variants by BANDWIDTH;
2. for each segment in order: ask the ABR rule (``abr.Rule``) which rendition,
   fetch that rendition's media playlist (once for on-demand; again every
   target duration for live), fetch the segment, and time the download;
3. feed the time to the throughput estimator and the segment's duration to
   the buffer model (``buffer.BufferModel``); when the buffer holds more than
   ``max_buffer`` seconds, wait (a player does not download the whole film);
4. on a failed segment (404, or no answer within ``segment_timeout``), try the
   same rendition once more, then the same segment from the next rendition
   down (every rendition has it: same cuts); a failure at the lowest ends playback;
5. live (:meth:`Player.follow_live`): start three segments behind the live
   edge, reload the playlist every target duration, and report the playlist
   as **stalled** when it has not grown for ``stall_after`` target durations.

Every switch, retry and stall is recorded in the :class:`Report`, and each
segment body is kept in ``save_dir`` so ``probe.py`` can check the frames.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wirelab_common.wiretrace import Trace

from .abr import Rule, ThroughputEstimator
from .buffer import BufferModel
from .playlists import MasterPlaylist, MediaPlaylist, Segment, Variant, parse, resolve


class PlaybackError(Exception):
    """Playback cannot go on (a segment failed at every rendition, a playlist is refused)."""


@dataclass(frozen=True)
class Download:
    sequence: int
    rendition: int
    size: int
    seconds: float
    path: Path | None

    @property
    def bps(self) -> float:
        return self.size * 8 / max(self.seconds, 1e-6)


@dataclass
class Report:
    downloads: list[Download] = field(default_factory=list)
    switches: list[tuple[int, int, int, str]] = field(default_factory=list)  # (sequence, from, to, reason)
    retries: list[str] = field(default_factory=list)
    media_sequences: list[int] = field(default_factory=list)  # live: EXT-X-MEDIA-SEQUENCE as reloaded
    live_stalled: str | None = None
    buffer: BufferModel = field(default_factory=BufferModel)

    @property
    def renditions(self) -> list[int]:
        return [d.rendition for d in self.downloads]


class Player:
    def __init__(self, client: httpx.AsyncClient, trace: Trace, *, rule: Rule | None = None,
                 max_buffer: float = 4.0, segment_timeout: float = 2.0, start: int = 0,
                 save_dir: Path | None = None, retry: bool = True) -> None:
        self.client, self.trace = client, trace
        self.rule = rule or Rule()
        self.max_buffer, self.segment_timeout, self.current = max_buffer, segment_timeout, start
        self.save_dir, self.retry = save_dir, retry  # retry=False: the demo's --no-retry
        self.estimator = ThroughputEstimator()
        self.report = Report()
        self.variants: list[tuple[Variant, str]] = []

    async def fetch_playlist(self, url: str) -> MasterPlaylist | MediaPlaylist:
        self.trace.sent(f"GET {url}")
        response = await self.client.get(url)
        self.trace.received(f"{response.status_code} {response.headers.get('content-type')} "
                            f"{len(response.content)} bytes", response.text.splitlines())
        if response.status_code != 200:
            raise PlaybackError(f"{url}: HTTP {response.status_code}")
        try:
            return parse(response.text)
        except ValueError as exc:
            raise PlaybackError(f"{url}: {exc}") from None

    async def load_master(self, url: str) -> None:
        master = await self.fetch_playlist(url)
        if not isinstance(master, MasterPlaylist):
            raise PlaybackError(f"{url} is a media playlist, not a master playlist")
        self.variants = sorted(((v, resolve(url, v.uri)) for v in master.variants),
                               key=lambda pair: pair[0].bandwidth)
        self.current = min(self.current, len(self.variants) - 1)
        self.trace.state("renditions: " + ", ".join(f"{i}={v.bandwidth // 1000} kbit/s {v.resolution}"
                                                    for i, (v, _) in enumerate(self.variants)))

    async def media(self, rendition: int) -> MediaPlaylist:
        playlist = await self.fetch_playlist(self.variants[rendition][1])
        if not isinstance(playlist, MediaPlaylist):
            raise PlaybackError(f"{self.variants[rendition][1]} is not a media playlist")
        return playlist

    def choose(self, sequence: int) -> int:
        bandwidths = [v.bandwidth for v, _ in self.variants]
        level = self.report.buffer.level
        decision = self.rule.choose(bandwidths, self.current, self.estimator.estimate, level)
        if decision.index != self.current:
            self.report.switches.append((sequence, self.current, decision.index, decision.reason))
            self.trace.state(f"switch {self.current} -> {decision.index} at #{sequence}: {decision.reason}")
            self.current = decision.index
        return self.current

    async def download(self, segment: Segment, url: str, rendition: int) -> Download:
        """One segment, timed from request to last byte; raises on 404 or a timeout."""
        self.trace.sent(f"GET {url}")
        started = time.monotonic()
        async with asyncio.timeout(self.segment_timeout):
            response = await self.client.get(url)
        seconds = time.monotonic() - started
        if response.status_code != 200:
            self.trace.received(f"{response.status_code} for #{segment.sequence}")
            raise PlaybackError(f"HTTP {response.status_code}")
        body = response.content
        path = None
        if self.save_dir is not None:
            path = self.save_dir / f"{segment.sequence:05d}-r{rendition}.ts"
            path.write_bytes(body)
        done = Download(segment.sequence, rendition, len(body), seconds, path)
        self.trace.received(f"200 #{segment.sequence} r{rendition} {len(body)} bytes in "
                            f"{seconds * 1000:.0f} ms = {done.bps / 1000:.0f} kbit/s",
                            [f"{k}: {v}" for k, v in response.headers.items()])
        return done

    async def fetch_segment(self, index: int, playlists: Callable[[int], Awaitable[MediaPlaylist]]) -> None:
        """Segment ``index`` of the playlists, with the retry and fallback ladder; updates the models."""
        rendition = self.choose(index)
        attempts, began = 0, time.monotonic()
        while True:
            playlist = await playlists(rendition)
            position = index - playlist.media_sequence
            if not 0 <= position < len(playlist.segments):
                raise PlaybackError(f"segment #{index} is not in rendition {rendition}'s playlist")
            segment = playlist.segments[position]
            url = resolve(self.variants[rendition][1], segment.uri)
            try:
                done = await self.download(segment, url, rendition)
                break
            except (PlaybackError, TimeoutError, httpx.HTTPError) as exc:
                reason = str(exc) or type(exc).__name__
                attempts += 1
                self.report.retries.append(f"#{index} r{rendition}: {reason}")
                if not self.retry:
                    raise PlaybackError(f"segment #{index} failed ({reason}) and retries are off") from None
                if attempts == 1:
                    self.trace.state(f"#{index} failed at r{rendition} ({reason}): retry once")
                    continue
                if rendition == 0:
                    raise PlaybackError(f"segment #{index} failed at every rendition: {reason}") from None
                self.trace.state(f"#{index} failed twice at r{rendition} ({reason}): "
                                 f"step down to r{rendition - 1}")
                self.report.switches.append((index, rendition, rendition - 1, f"step down after {reason}"))
                rendition = self.current = rendition - 1
                attempts = 0
        self.report.downloads.append(done)
        self.estimator.add(done.size, done.seconds)
        buffer = self.report.buffer
        buffer.advance(time.monotonic() - began)  # it played while we fetched, failed attempts included
        buffer.add(segment.duration)
        if buffer.level > self.max_buffer:  # full enough: wait as a player does, playing meanwhile
            wait = buffer.level - self.max_buffer
            await asyncio.sleep(wait)
            buffer.advance(wait)
        self.trace.state(f"buffer {buffer.level:.1f} s, played {buffer.position:.1f} s, "
                         f"stalls {len(buffer.stalls)}")

    async def play_vod(self, master_url: str, *,
                       on_segment: Callable[[int], Awaitable[None]] | None = None) -> Report:
        await self.load_master(master_url)
        cache: dict[int, MediaPlaylist] = {}

        async def playlists(rendition: int) -> MediaPlaylist:
            if rendition not in cache:  # on demand: a media playlist never changes
                cache[rendition] = await self.media(rendition)
            return cache[rendition]

        first = await playlists(self.current)
        if not first.endlist:
            raise PlaybackError("not an on-demand playlist (no EXT-X-ENDLIST): use follow_live")
        for index in range(first.media_sequence, first.media_sequence + len(first.segments)):
            await self.fetch_segment(index, playlists)
            if on_segment is not None:
                await on_segment(index)
        return self.report

    def _loader(self, fresh: dict[int, MediaPlaylist]) -> Callable[[int], Awaitable[MediaPlaylist]]:
        """Playlists reloaded at most once per live step: ``fresh`` holds those already reloaded."""
        async def playlists(rendition: int) -> MediaPlaylist:
            if rendition not in fresh:
                fresh[rendition] = await self.media(rendition)
            return fresh[rendition]
        return playlists

    async def follow_live(self, master_url: str, *, segments: int, stall_after: float = 3.0) -> Report:
        """Play ``segments`` segments of a live stream, or stop early when its playlist stalls."""
        await self.load_master(master_url)
        playlist = await self.media(self.current)
        if playlist.endlist:
            raise PlaybackError("the playlist has EXT-X-ENDLIST: not live")
        # Start three segments behind the live edge (hls.js's liveSyncDurationCount default).
        index = max(playlist.media_sequence, playlist.media_sequence + len(playlist.segments) - 3)
        seen, changed = None, time.monotonic()
        fetched = 0
        while fetched < segments:
            playlist = await self.media(self.current)
            loader = self._loader({self.current: playlist})
            self.report.media_sequences.append(playlist.media_sequence)
            state = (playlist.media_sequence, len(playlist.segments))
            if state != seen:
                seen, changed = state, time.monotonic()
            elif time.monotonic() - changed > stall_after * playlist.target_duration:
                still = time.monotonic() - changed
                self.report.live_stalled = (f"the playlist has not changed for {still:.1f} s "
                                            f"(EXT-X-MEDIA-SEQUENCE stuck at {playlist.media_sequence})")
                self.trace.state(f"live stream stalled: {self.report.live_stalled}")
                return self.report
            if index < playlist.media_sequence:  # the window slid past us: those segments are gone
                self.trace.state(f"fell behind the window: #{index} expired, "
                                 f"jump to #{playlist.media_sequence}")
                index = playlist.media_sequence
            if index < playlist.media_sequence + len(playlist.segments):
                await self.fetch_segment(index, loader)
                index += 1
                fetched += 1
            else:  # the edge: wait half a target duration for the next segment (§6.3.4)
                wait = playlist.target_duration / 2
                await asyncio.sleep(wait)
                self.report.buffer.advance(wait)
        return self.report
