FROM python:3.11-slim-bookworm

# WeasyPrint needs Pango and HarfBuzz's subsetter; CJK text needs the Noto CJK fonts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 gettext \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DGD_VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir -e .
COPY . .
RUN DEBUG=false SECRET_KEY=build-only ALLOWED_HOSTS=build python manage.py collectstatic --noinput \
    && useradd --create-home dgd && mkdir -p /app/var && chown -R dgd /app/var
USER dgd
EXPOSE 8000
CMD ["gunicorn", "dgd.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
