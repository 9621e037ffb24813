# Stand-in for the official nginx:1.27, from Debian bookworm's nginx (1.22): the same
# layout as the official image (conf.d/*.conf inside http {}, no default site, logs to the
# container's output), curl as in the official image (health checks use it), the same command.
FROM wirelab-standin/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
LABEL org.wirelab.stand-in="nginx:1.27"
CMD ["nginx", "-g", "daemon off;"]
