FROM python:3.11-slim-bookworm

# WeasyPrint needs Pango and HarfBuzz's subsetter; CJK text needs the Noto CJK fonts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 gettext \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DGD_VAR_DIR=/app/var
WORKDIR /app
# The runtime lock (README, "Dependencies"): exactly the pinned releases, each file checked against its hash;
# then the project itself, whose dependencies the lock already holds.
COPY pyproject.toml requirements.txt ./
RUN pip install --no-cache-dir 'pip==26.3' \
    && pip install --no-cache-dir --require-hashes -r requirements.txt \
    && pip install --no-cache-dir --no-deps -e .
COPY . .
RUN DEBUG=false SECRET_KEY=build-only ALLOWED_HOSTS=build python manage.py collectstatic --noinput \
    && useradd --create-home dgd && mkdir -p /app/var && chown -R dgd /app/var
USER dgd
EXPOSE 8000
CMD ["gunicorn", "dgd.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
