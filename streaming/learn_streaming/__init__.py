"""learn_streaming: HTTP Live Streaming with adaptive bitrate, from the playlist parser up.

Reading order: playlists -> abr -> buffer -> packager -> app -> server -> player -> probe
-> shaping_lab -> demo.
"""
