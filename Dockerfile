# One image for every CareLedger process: `careledger serve | relay | consume | migrate`
# (docker-compose.yml picks the command). No secrets here: they come from the environment.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY careledger ./careledger
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 --user-group careledger \
    && mkdir -p /var/lib/careledger \
    && chown careledger:careledger /var/lib/careledger
# The runtime dependencies exactly as locked (`make lock`), each checked by its hash; then
# the package alone: not editable, no dev extras, nothing resolved at build time.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels
# Local files a process may write (never the secrets compose passes in).
ENV CARELEDGER_DATA_DIR=/var/lib/careledger
USER careledger
WORKDIR /home/careledger
EXPOSE 8000
ENTRYPOINT ["careledger"]
CMD ["serve"]
