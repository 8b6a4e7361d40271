# fedaudit: one image for every role. The command picks the role:
#   docker run … fedaudit coordinator start --home /var/lib/fedaudit
#   docker run … fedaudit node start --home /var/lib/fedaudit
# Kits, keys and data are mounted at /var/lib/fedaudit, never baked into the image.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fedaudit ./fedaudit
COPY proto ./proto
COPY certs ./certs
COPY analyses ./analyses
COPY node ./node
COPY coordinator ./coordinator
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin fedaudit \
 && mkdir -p /var/lib/fedaudit && chown fedaudit:fedaudit /var/lib/fedaudit
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER fedaudit
WORKDIR /var/lib/fedaudit
VOLUME ["/var/lib/fedaudit"]
ENTRYPOINT ["fedaudit"]
CMD ["--help"]
