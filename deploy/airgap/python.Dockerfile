# Stand-in for python:3.11-slim built from Debian's packages (deploy/airgap/build-bases.sh).
FROM debian:bookworm-slim
COPY . /usr/local/share/ca-certificates/
RUN rm -f /usr/local/share/ca-certificates/Dockerfile \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates \
    && update-ca-certificates \
    && python3.11 -m venv /usr/local \
    && printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > /etc/pip.conf \
    && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8
CMD ["python3"]
