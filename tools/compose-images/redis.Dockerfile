# Stand-in for the official redis:7, from Debian bookworm's redis-server (7.0).
FROM wirelab-standin/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir /data && chown redis:redis /data
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
VOLUME /data
EXPOSE 6379
LABEL org.wirelab.stand-in="redis:7"
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
