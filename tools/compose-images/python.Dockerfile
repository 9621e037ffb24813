# Stand-in for the official python:3.11-slim, from Debian bookworm's python3.11:
# python, pip and venv on PATH, pip installing into the system as root (as in the official image).
FROM wirelab-standin/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-pip python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && ln -s /usr/bin/pip3 /usr/local/bin/pip
# pip trusts the CA bundle that pip on the building machine trusts (its global.cert): where
# HTTPS to the package index is only trusted through that bundle, pip in the image needs it
# too.  Empty when the machine names none: then the image's own Debian bundle.
COPY pip-ca.crt /usr/local/share/wirelab/pip-ca.crt
RUN [ -s /usr/local/share/wirelab/pip-ca.crt ] \
    || cp /etc/ssl/certs/ca-certificates.crt /usr/local/share/wirelab/pip-ca.crt
ENV LANG=C.UTF-8 PIP_CERT=/usr/local/share/wirelab/pip-ca.crt
LABEL org.wirelab.stand-in="python:3.11-slim"
CMD ["python3"]
